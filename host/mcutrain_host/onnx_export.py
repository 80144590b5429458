"""Float networks and int8 model files as ONNX models (opset 13) that onnxruntime runs.

Both take the image as NCHW floats in [0, 1] (pixel / 255) and give the last layer's output
(the logits).
- A float network becomes the graph `mcutrain import` reads back to the same network.
- An int8 model file becomes a QDQ graph: every tensor is int8 with the file's scale and zero
  point, and each layer is DequantizeLinear -> float op -> clamp -> QuantizeLinear. The
  weights and biases are the file's integers; a layer's weight scales are what its
  requantization multipliers imply. onnxruntime rounds in float where the kernels round in
  integers, so a value can land one step away from the board's (tests/test_onnx.py says how
  often).
"""

import numpy as np

from mcutrain import model_file as mf

OPSET = 13


def onnx_modules():
    try:
        import onnx
    except ModuleNotFoundError:
        raise mf.ModelError("writing ONNX needs the onnx package: pip install 'mcutrain[onnx]'") from None
    return onnx, onnx.helper, onnx.numpy_helper


class Graph:
    """Nodes and constants, added in order; names are unique by construction."""

    def __init__(self):
        self.onnx, self.helper, self.numpy_helper = onnx_modules()
        self.nodes, self.constants = [], []

    def constant(self, name, value):
        self.constants.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op, inputs, output, **attributes):
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def model(self, input_shape, output, output_rank):
        h, w, c = input_shape
        float_type = self.onnx.TensorProto.FLOAT
        image = self.helper.make_tensor_value_info("image", float_type, ["N", c, h, w])
        out = self.helper.make_tensor_value_info(output, float_type, ["N"] + [None] * (output_rank - 1))
        graph = self.helper.make_graph(self.nodes, "mcutrain", [image], [out], self.constants)
        model = self.helper.make_model(graph, opset_imports=[self.helper.make_opsetid("", OPSET)],
                                       producer_name="mcutrain")
        self.onnx.checker.check_model(model)
        return model


def onnx_weight(op, weight, in_shape):
    """The ONNX layout of a layer's weights: OIHW, [c, 1, k, k], or [units, c*h*w]."""
    if op == "conv2d":
        return weight.transpose(0, 3, 1, 2)
    if op == "depthwise_conv2d":
        return weight.transpose(2, 0, 1)[:, None]
    h, w, c = in_shape
    return weight.reshape(len(weight), h, w, c).transpose(0, 3, 1, 2).reshape(len(weight), -1)


def geometry(kernel, stride, pad, in_shape, out_shape):
    """Conv/pool attributes; bottom/right padding is what the last window needs, as in the kernels."""
    bottom = max(0, (out_shape[0] - 1) * stride + kernel - pad - in_shape[0])
    right = max(0, (out_shape[1] - 1) * stride + kernel - pad - in_shape[1])
    return {"kernel_shape": [kernel, kernel], "strides": [stride, stride], "pads": [pad, pad, bottom, right]}


def layer_node(g, op, inputs, output, shapes, flat_input, kernel=0, stride=0, pad=0, weight=None, bias=None):
    """The float ONNX node of one mcutrain layer, reading ONNX tensors `inputs` (the first of them
    already [N, units] if flat_input)."""
    in_shape, out_shape = shapes
    if op in ("conv2d", "depthwise_conv2d"):
        attrs = geometry(kernel, stride, pad, in_shape, out_shape)
        if op == "depthwise_conv2d":
            attrs["group"] = in_shape[2]
        return g.node("Conv", [inputs[0], weight, bias], output, **attrs)
    if op == "fully_connected":
        x = inputs[0]
        if not flat_input:
            x = g.node("Flatten", [x], output + ".flat")
        return g.node("Gemm", [x, weight, bias], output, transB=1)
    if op in ("max_pool", "avg_pool"):
        attrs = geometry(kernel, stride, 0, in_shape, out_shape)
        return g.node("MaxPool" if op == "max_pool" else "AveragePool", inputs[:1], output, **attrs)
    if op == "global_avg_pool":
        return g.node("GlobalAveragePool", inputs[:1], output)
    return g.node("Add", list(inputs), output)


def float_model(network):
    """The ONNX model of a float network (mcutrain_host.network), batch norm folded."""
    g = Graph()
    names, ranks = ["image"], [4]
    for index, (layer, spec) in enumerate(zip(network.layers, network.description)):
        op, inputs = spec["op"], network.inputs[index]
        in_shape = network.shapes[inputs[0]]  # a fully connected output is (1, 1, units) already
        params = layer.export()
        weight = bias = None
        if params:
            weight = g.constant(f"{index}.weight", onnx_weight(op, params["weight"], in_shape).astype(np.float32))
            bias = g.constant(f"{index}.bias", params["bias"].astype(np.float32))
        windows = getattr(layer, "windows", None)
        window = (windows.kernel, windows.stride, windows.pad) if windows else (0, 0, 0)
        y = layer_node(g, op, [names[t] for t in inputs], f"{index}.{op}", (in_shape, network.shapes[index + 1]),
                       ranks[inputs[0]] == 2, *window, weight, bias)
        act = spec.get("act", "none")
        if act == "relu":
            y = g.node("Relu", [y], f"{index}.relu")
        elif act == "relu6":
            bounds = g.constant(f"{index}.zero", np.float32(0)), g.constant(f"{index}.six", np.float32(6))
            y = g.node("Clip", [y, *bounds], f"{index}.relu6")
        names.append(y)
        ranks.append(2 if op == "fully_connected" else 4)
    return g.model(network.input_shape, names[-1], ranks[-1])


def int8_model(model):
    """The QDQ ONNX model of an int8 ModelFile (mcutrain.model_file)."""
    g = Graph()
    scales = [(model.input_scale, model.input_zero_point)]
    shapes = [model.input_shape]
    quantized = [g.node("QuantizeLinear", ["image", *quantization(g, "image", *scales[0])], "image.q")]
    ranks = [4]
    for index, layer in enumerate(model.layers):
        op = mf.OP_NAMES[layer.op]
        inputs = layer.inputs[:2] if layer.op == mf.ADD else layer.inputs[:1]
        scales.append((layer.scale, layer.zero_point))
        shapes.append(tuple(layer.shape))
        in_shape = shapes[inputs[0]]
        floats = [g.node("DequantizeLinear", [quantized[t], *quantization(g, f"{index}.in{i}", *scales[t])],
                         f"{index}.in{i}") for i, t in enumerate(inputs)]
        weight = bias = None
        if layer.op in mf.WEIGHTED:
            weight, bias = dequantized_weights(g, index, op, layer, scales[inputs[0]][0], in_shape)
        y = layer_node(g, op, floats, f"{index}.{op}", (in_shape, layer.shape), ranks[inputs[0]] == 2,
                       layer.kernel[0], layer.stride[0],
                       layer.pad[0], weight, bias)
        lo, hi = ((bound - layer.zero_point) * np.float32(layer.scale) for bound in (layer.act_min, layer.act_max))
        y = g.node("Clip", [y, g.constant(f"{index}.lo", np.float32(lo)), g.constant(f"{index}.hi", np.float32(hi))],
                   f"{index}.clamp")
        quantized.append(g.node("QuantizeLinear", [y, *quantization(g, f"{index}.out", *scales[-1])], f"{index}.q"))
        ranks.append(2 if layer.op == mf.FULLY_CONNECTED else 4)
    logits = g.node("DequantizeLinear", [quantized[-1], *quantization(g, "logits", *scales[-1])], "logits")
    return g.model(model.input_shape, logits, ranks[-1])


def quantization(g, name, scale, zero_point):
    return (g.constant(name + ".scale", np.float32(scale)), g.constant(name + ".zero_point", np.int8(zero_point)))


def dequantized_weights(g, index, op, layer, in_scale, in_shape):
    """(weight, bias) ONNX names: the file's integers, dequantized per output channel."""
    raw, bias, multiplier, shift = layer.tensors
    out_c = len(bias)
    weight = np.frombuffer(bytes(raw), np.int8)
    weight = weight.reshape((layer.kernel[0], layer.kernel[1], out_c) if op == "depthwise_conv2d" else (out_c, -1)
                            if op == "fully_connected" else (out_c, *layer.kernel, in_shape[2]))
    # requantization multiplies the sum by in_scale * weight_scale / out_scale = m * 2^(shift - 31)
    real = np.array(multiplier, np.float64) * np.exp2(np.array(shift, np.float64) - 31)
    weight_scale = real * float(layer.scale) / float(in_scale)
    weight_scale = np.where(weight_scale > 0, weight_scale, 1.0).astype(np.float32)
    w = g.node("DequantizeLinear", [g.constant(f"{index}.weight.q", onnx_weight(op, weight, in_shape)),
                                    g.constant(f"{index}.weight.scale", weight_scale),
                                    g.constant(f"{index}.weight.zero_point", np.zeros(out_c, np.int8))],
               f"{index}.weight", axis=0)
    b = g.node("DequantizeLinear", [g.constant(f"{index}.bias.q", np.array(bias, np.int32)),
                                    g.constant(f"{index}.bias.scale",
                                               (np.float32(in_scale) * weight_scale).astype(np.float32)),
                                    g.constant(f"{index}.bias.zero_point", np.zeros(out_c, np.int32))],
               f"{index}.bias", axis=0)
    return w, b
