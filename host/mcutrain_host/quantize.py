"""Int8 post-training quantization of a float network into a device ModelFile.

- Weights: symmetric per output channel, scale = max |w| / 127, values in [-127, 127].
- Bias: int32 in the accumulator's scale (input scale * weight scale).
- Activations: per tensor, asymmetric, from the min/max (widened to include 0) seen on
  calibration images in an exact fixed-point forward pass, so every CPU and BLAS gives the same
  bytes; pooling keeps its input's scale and zero point, as the kernels do.
- Requantization: (multiplier, shift) from TFLite's QuantizeMultiplier, the kernels' rounding.
Scales are rounded to float32 first, since the file stores float32: everything derived from
a scale is derived from the stored value.
"""

import math
from array import array

import numpy as np

from mcutrain import model_file as mf
from mcutrain_host.network import Network, to_float

OPS = {name: code for code, name in mf.OP_NAMES.items()}
SHARES_INPUT_QUANTIZATION = ("max_pool", "avg_pool", "global_avg_pool")
ADD_LEFT_SHIFT = 20  # TFLite's int8 add: headroom for the rescaled inputs
# Calibration's fixed-point grids: activations in steps of 2^-20, weights to 20 significant bits.
# tiny's and small's largest sums then reach about 2^48 of float64's 2^53 exact steps.
ACTIVATION_BITS = 20
WEIGHT_BITS = 20


def quantize_multiplier(real):
    """(multiplier in [0, 2^31), shift) with real ~= multiplier * 2^(shift - 31)."""
    if real <= 0:
        return 0, 0
    mantissa, exponent = math.frexp(real)
    multiplier = math.floor(mantissa * (1 << 31) + 0.5)  # ties away from zero, like TfLiteRound
    if multiplier == 1 << 31:
        multiplier, exponent = multiplier // 2, exponent + 1
    if exponent < -31:
        return 0, 0  # too small to represent: the term is zero
    if exponent > 30:
        raise ValueError(f"requantization factor {real} is too large for int8 kernels")
    return multiplier, exponent


def activation_quantization(lo, hi):
    """(float32 scale, zero point) mapping [min(lo, 0), max(hi, 0)] onto [-128, 127]."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-12:
        return np.float32(1.0), 0
    scale = np.float32((hi - lo) / 255)
    return scale, int(np.clip(round(-128 - lo / float(scale)), -128, 127))


def activation_bounds(act, scale, zero_point):
    """[act_min, act_max] that fuses the layer's activation into its output clamp."""
    lo, hi = -128, 127
    if act in ("relu", "relu6"):
        lo = max(lo, zero_point)
    if act == "relu6":
        hi = min(hi, zero_point + round(6 / float(scale)))
    return lo, hi


def quantize_images(images, scale, zero_point):
    """uint8 pixels to the model's int8 input: q = clamp(round(pixel / 255 / scale) + zero_point)."""
    q = np.round(images.astype(np.float64) / 255 / float(scale)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def on_grid(values, fraction_bits):
    """float64 values rounded to multiples of 2^-fraction_bits (ties to even: the same on every CPU)."""
    return np.ldexp(np.round(np.ldexp(np.asarray(values, np.float64), fraction_bits)), -fraction_bits)


def weight_fraction_bits(weight):
    """Fraction bits that keep WEIGHT_BITS significant bits of the layer's largest weight."""
    return WEIGHT_BITS - math.frexp(float(np.abs(weight).max()))[1]


def exact_copy(network):
    """A float64 copy of the network on fixed-point grids, and each weighted layer's weight grid.

    Activations are multiples of 2^-ACTIVATION_BITS, weights of 2^-bits, biases of their product's
    grid: every sum a forward pass makes is then a sum of multiples of one grid, exact in float64
    in any order while it stays below 2^53 grid steps (checked by check_exact).
    """
    copy = Network(network.description, network.input_shape, batch_norm=False)
    weight_bits = {}
    for index, (source, layer) in enumerate(zip(network.layers, copy.layers)):
        exported = source.export()
        if "weight" in exported:
            bits = weight_bits[index] = weight_fraction_bits(exported["weight"])
            layer.params = {"weight": on_grid(exported["weight"], bits),
                            "bias": on_grid(exported["bias"], bits + ACTIVATION_BITS)}
    return copy, weight_bits


def check_exact(copy, weight_bits, peaks):
    """Raise unless every weighted layer's sums stayed below 2^53 steps of their grid.

    peaks[t] is the largest magnitude tensor t reached; a partial sum of a layer's output is at
    most its input's peak times the largest per-channel sum of |weights|, plus the bias.
    """
    for index, bits in weight_bits.items():
        weight, bias = copy.layers[index].params["weight"], copy.layers[index].params["bias"]
        channel_axis = 2 if copy.description[index]["op"] == "depthwise_conv2d" else 0
        per_channel = np.moveaxis(np.abs(weight), channel_axis, 0).reshape(len(bias), -1).sum(axis=1)
        bound = peaks[copy.inputs[index][0]] * per_channel.max() + np.abs(bias).max()
        if bound >= 2.0 ** (53 - ACTIVATION_BITS - bits):
            raise ValueError(f"layer {index}: calibration sums reach {bound:.3g}, too large to sum exactly "
                             f"at 2^-{ACTIVATION_BITS + bits}; the float network's activations are out of range")


def calibrate(network, images, batch=500):
    """(scale, zero point) of every tensor of the network, from these uint8 images.

    The ranges come from an exact fixed-point forward pass (exact_copy), not from float32 BLAS,
    whose rounding depends on the CPU: the same images give the same bytes on every machine.
    """
    copy, weight_bits = exact_copy(network)
    activation_grid = lambda y: on_grid(y, ACTIVATION_BITS)  # noqa: E731
    lows = np.full(len(network.shapes), np.inf)
    highs = np.full(len(network.shapes), -np.inf)
    for start in range(0, len(images), batch):
        x = activation_grid(to_float(images[start:start + batch]))
        for t, y in enumerate(copy.tensors(x, rounding=activation_grid)):
            lows[t], highs[t] = min(lows[t], y.min()), max(highs[t], y.max())
    check_exact(copy, weight_bits, np.maximum(-lows, highs))
    quantization = [activation_quantization(lows[0], highs[0])]
    for index, spec in enumerate(network.description):
        if spec["op"] in SHARES_INPUT_QUANTIZATION:
            quantization.append(quantization[network.inputs[index][0]])
        else:
            quantization.append(activation_quantization(lows[index + 1], highs[index + 1]))
    return quantization


def weighted_tensors(weights, bias, channel_axis, input_scale, output_scale):
    """[int8 weights, int32 bias, multiplier, shift] of one conv, depthwise or dense layer."""
    other_axes = tuple(a for a in range(weights.ndim) if a != channel_axis)
    max_abs = np.abs(weights).max(axis=other_axes).astype(np.float64)
    weight_scale = np.where(max_abs > 0, max_abs / 127, 1.0)
    shape = [1] * weights.ndim
    shape[channel_axis] = -1
    q = np.clip(np.round(weights / weight_scale.reshape(shape)), -127, 127).astype(np.int8)
    accumulator_scale = float(input_scale) * weight_scale
    q_bias = np.clip(np.round(bias / accumulator_scale), -(1 << 31), (1 << 31) - 1).astype(np.int64)
    pairs = [quantize_multiplier(s / float(output_scale)) for s in accumulator_scale]
    return [bytearray(q.tobytes()), array("i", q_bias.tolist()),
            array("i", [m for m, _ in pairs]), array("i", [s for _, s in pairs])]


def add_tensor(scale_a, scale_b, output_scale):
    """TFLite's int8 add requantization: both inputs to a common scale, then to the output's."""
    twice_max = 2 * max(float(scale_a), float(scale_b))
    a = quantize_multiplier(float(scale_a) / twice_max)
    b = quantize_multiplier(float(scale_b) / twice_max)
    out = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT) * float(output_scale)))
    return [array("i", [a[0], a[1], b[0], b[1], ADD_LEFT_SHIFT, out[0], out[1]])]


def quantize(network, calibration_images):
    """The int8 ModelFile of a float network (batch norm folded), calibrated on uint8 images."""
    quantization = calibrate(network, calibration_images)
    records = []
    for index, (layer, spec) in enumerate(zip(network.layers, network.description)):
        op, inputs = spec["op"], network.inputs[index]
        scale, zero_point = quantization[index + 1]
        in_scale = quantization[inputs[0]][0]
        act_min, act_max = activation_bounds(spec.get("act", "none"), scale, zero_point)
        if op in ("conv2d", "depthwise_conv2d", "max_pool", "avg_pool"):
            w = layer.windows
            geometry = (w.kernel, w.kernel), (w.stride, w.stride), (w.pad, w.pad)
        else:
            geometry = (0, 0), (0, 0), (0, 0)
        if op in ("conv2d", "depthwise_conv2d", "fully_connected"):
            exported = layer.export()
            channel_axis = 2 if op == "depthwise_conv2d" else 0
            tensors = weighted_tensors(exported["weight"].astype(np.float64), exported["bias"].astype(np.float64),
                                       channel_axis, in_scale, scale)
        elif op == "add":
            tensors = add_tensor(in_scale, quantization[inputs[1]][0], scale)
        else:
            tensors = []
        records.append(mf.LayerRecord(OPS[op], inputs, network.shapes[index + 1], *geometry, float(scale),
                                      zero_point, act_min, act_max, tensors))
    in_scale, in_zero_point = quantization[0]
    return mf.ModelFile(network.input_shape, float(in_scale), in_zero_point, records)
