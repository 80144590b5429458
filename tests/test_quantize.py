"""Int8 post-training quantization: the multiplier encoding, activation ranges, and the committed
models (re-quantizing reproduces them; int8 and float agree)."""

import math

import numpy as np
import pytest

from mcutrain.model import Model
from mcutrain_host import datasets, model_file, network
from mcutrain_host.quantize import activation_quantization, calibrate, quantize, quantize_images, quantize_multiplier
from model_cases import MODELS


def test_multiplier_and_shift_encode_the_real_factor():
    rng = np.random.default_rng(0)
    for real in np.concatenate([10.0 ** rng.uniform(-9, 8, 2000), [0.5, 1.0, 1 - 2 ** -33, 2 ** -31]]):
        multiplier, shift = quantize_multiplier(float(real))
        assert (1 << 30) <= multiplier < (1 << 31) and -31 <= shift <= 30
        assert abs(multiplier * 2.0 ** (shift - 31) - real) <= real * 2 ** -31
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(2.0 ** -40) == (0, 0)
    with pytest.raises(ValueError):
        quantize_multiplier(2.0 ** 31)


@pytest.mark.parametrize("lo, hi", [(0.0, 6.0), (-3.2, 1.1), (0.5, 2.0), (-4.0, -1.0)])
def test_activation_range_maps_onto_int8_with_an_exact_zero(lo, hi):
    scale, zero_point = activation_quantization(lo, hi)
    assert scale.dtype == np.float32 and -128 <= zero_point <= 127
    real = lambda q: float(scale) * (q - zero_point)  # noqa: E731
    assert real(zero_point) == 0.0
    assert math.isclose(real(-128), min(lo, 0.0), abs_tol=float(scale)) and \
        math.isclose(real(127), max(hi, 0.0), abs_tol=float(scale))


def test_images_quantize_as_pixel_minus_128_at_the_shipped_input_scale():
    pixels = np.arange(256, dtype=np.uint8)
    description = model_file.read(MODELS / "tiny.mcut")
    q = quantize_images(pixels, description.input_scale, description.input_zero_point)
    assert np.array_equal(q.astype(int), np.arange(256) - 128)


@pytest.mark.parametrize("name", ["tiny", "small", "medium"])
def test_committed_int8_model_is_the_quantized_committed_float_model(name):
    float_model = network.load(MODELS / f"{name}-float.npz")
    calibration, _ = datasets.load("fashion-mnist", "heldout")
    # The calibration `mcutrain quantize` uses by default: the first 2000 held-out images.
    assert model_file.pack(quantize(float_model, calibration[:2000])) == (MODELS / f"{name}.mcut").read_bytes()


def channels_permuted(permutation):
    """The same function with layer 0's output channels reordered, so layer 2 sums in another order."""
    permuted = network.load(MODELS / "tiny-float.npz")
    first, second = permuted.layers[0].params, permuted.layers[2].params
    first["weight"], first["bias"] = first["weight"][permutation], first["bias"][permutation]
    second["weight"] = second["weight"][..., permutation]
    return permuted


def test_calibration_gives_the_same_ranges_whatever_the_summation_order():
    """Float32 BLAS rounds these sums differently per CPU and per order; calibration sums exactly."""
    float_model = network.load(MODELS / "tiny-float.npz")
    images, _ = datasets.load("fashion-mnist", "heldout")
    permutation = np.random.default_rng(0).permutation(float_model.shapes[1][-1])
    permuted = channels_permuted(permutation)
    assert calibrate(permuted, images[:1000]) == calibrate(float_model, images[:1000])
    assert calibrate(float_model, images[:1000], batch=250) == calibrate(float_model, images[:1000])


def test_calibration_refuses_sums_it_cannot_make_exactly():
    float_model = network.load(MODELS / "tiny-float.npz")
    float_model.layers[4].params["bias"] = float_model.layers[4].params["bias"] + 2.0 ** 20  # huge activations
    with pytest.raises(ValueError, match="layer 4: calibration sums"):
        calibrate(float_model, np.full((2, 28, 28, 1), 255, np.uint8))


def test_int8_and_float_tiny_agree_on_test_images():
    images, labels = datasets.load("fashion-mnist", "test")
    images, labels = images[:500], labels[:500]
    float_predictions = network.load(MODELS / "tiny-float.npz").predict(images)
    model = Model(model_file.read(MODELS / "tiny.mcut"))
    model.plan(batch=len(images))
    d = model.description
    logits = model.infer(quantize_images(images, d.input_scale, d.input_zero_point).reshape(-1))
    int8_predictions = np.frombuffer(logits, np.int8).reshape(len(images), -1).argmax(axis=1)
    assert (int8_predictions == float_predictions).mean() >= 0.97
    assert (int8_predictions == labels).mean() >= 0.85
