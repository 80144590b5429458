"""The model file: host writer and reader round trip, and the loader's checks (on CPython)."""

import io
import struct
import zlib

import numpy as np
import pytest

from mcutrain import model_file as mf
from mcutrain_host import model_file
from model_cases import synthetic_model


def with_crc(body):
    return body + struct.pack("<I", zlib.crc32(body))


def mutate(data, offset, fmt, value, fix_crc=True):
    """data with one field replaced; the CRC recomputed so that the field check must catch it."""
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return with_crc(bytes(out[:-4])) if fix_crc else bytes(out)


def load(data):
    return mf.load(io.BytesIO(data))


def layer_field(index, name):
    """(offset, struct format) of one field of layer `index`'s record."""
    fields = ["op", "zero_point", "act_min", "act_max", "a", "b", "k_h", "k_w", "s_h", "s_w", "pad_top", "pad_left",
              "out_h", "out_w", "out_c", "first_tensor", "reserved", "scale"]
    codes = mf.LAYER[1:]
    position = fields.index(name)
    return mf.HEADER_SIZE + index * mf.LAYER_SIZE + struct.calcsize("<" + codes[:position]), "<" + codes[position]


@pytest.fixture(scope="module")
def model_bytes():
    return model_file.pack(synthetic_model())


def test_round_trip_is_exact(model_bytes, tmp_path):
    model = load(model_bytes)
    assert model_file.pack(model) == model_bytes
    model_file.write(tmp_path / "m.mcut", model)
    again = model_file.read(tmp_path / "m.mcut")
    assert [layer.shape for layer in again.layers] == [layer.shape for layer in model.layers]
    assert [mf.OP_NAMES[layer.op] for layer in model.layers] == [
        "conv2d", "depthwise_conv2d", "conv2d", "add", "depthwise_conv2d", "max_pool", "conv2d", "avg_pool",
        "global_avg_pool", "fully_connected"]


def test_writer_is_deterministic():
    assert model_file.pack(synthetic_model(3)) == model_file.pack(synthetic_model(3))
    assert model_file.pack(synthetic_model(3)) != model_file.pack(synthetic_model(4))


def test_layout_is_as_documented(model_bytes):
    magic, version, layers, tensors, h, w, c, scale, zp, _, _, size = struct.unpack_from(mf.HEADER, model_bytes)
    assert (magic, version, (h, w, c), size) == (b"MCUT", 1, (19, 21, 2), len(model_bytes))
    tables_end = mf.HEADER_SIZE + layers * mf.LAYER_SIZE + tensors * mf.TENSOR_SIZE
    first = struct.unpack_from(mf.TENSOR, model_bytes, tables_end - tensors * mf.TENSOR_SIZE)
    assert first[3] == (tables_end + 3) // 4 * 4
    assert struct.unpack("<I", model_bytes[-4:])[0] == zlib.crc32(model_bytes[:-4])


@pytest.mark.parametrize("change, message", [
    (lambda d: d[:20], "too short"),
    (lambda d: b"MCUX" + d[4:], "not a model file"),
    (lambda d: mutate(d, 4, "<H", 2), "version 2"),
    (lambda d: d[:-1], "header says"),
    (lambda d: d + b"\0", "header says"),
    (lambda d: d[:100] + bytes([d[100] ^ 4]) + d[101:], "CRC mismatch"),
    (lambda d: mutate(d, 6, "<H", 999), "do not fit"),
    (lambda d: mutate(d, 8, "<H", 3), "need"),
    (lambda d: mutate(d, 10, "<H", 30), "layer 0 .*output"),
    (lambda d: mutate(d, 16, "<f", float("nan")), "input scale"),
    (lambda d: mutate(d, 21, "<B", 1), "reserved"),
    (lambda d: mutate(d, *layer_field(0, "op"), 9), r"layer 0 \(op 9\): unknown op"),
    (lambda d: mutate(d, *layer_field(3, "b"), 9), "not earlier tensors"),
    (lambda d: mutate(d, *layer_field(2, "b"), 0), "not earlier tensors"),
    (lambda d: mutate(mutate(d, *layer_field(1, "act_min"), 5), *layer_field(1, "act_max"), 4), "act_min > act_max"),
    (lambda d: mutate(d, *layer_field(0, "pad_top"), 2), "not a valid window"),
    (lambda d: mutate(d, *layer_field(5, "s_w"), 1), "gives"),
    (lambda d: mutate(d, *layer_field(9, "k_h"), 1), "window fields must be zero"),
    (lambda d: mutate(d, *layer_field(5, "zero_point"), 3), "keeps its input's scale"),
    (lambda d: mutate(d, *layer_field(2, "first_tensor"), 4), "first tensor"),
    (lambda d: mutate(d, *layer_field(4, "scale"), -1.0), "scale"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_loader_names_what_is_wrong(model_bytes, change, message):
    with pytest.raises(mf.ModelError, match=message):
        load(change(model_bytes))


def tensor_field(data, index, position):
    layers, tensors = struct.unpack_from("<HH", data, 6)
    at = mf.HEADER_SIZE + layers * mf.LAYER_SIZE + index * mf.TENSOR_SIZE
    return at + struct.calcsize("<" + mf.TENSOR[1:][:position]), "<" + mf.TENSOR[1:][position]


def test_tensor_table_and_data_checks(model_bytes):
    with pytest.raises(mf.ModelError, match="tensor 1: 4 elements of 1 bytes, the layer needs 4 of 4"):
        load(mutate(model_bytes, *tensor_field(model_bytes, 1, 0), 1))
    with pytest.raises(mf.ModelError, match="tensor 2: offset"):
        load(mutate(model_bytes, *tensor_field(model_bytes, 2, 3), 4))
    model = load(model_bytes)
    model.layers[0].tensors[2][1] = -5  # a negative multiplier
    with pytest.raises(mf.ModelError, match="layer 0 .*requantization -5"):
        load(model_file.pack(model))
    model = load(model_bytes)
    model.layers[3].tensors[0][4] = 21  # the add's left shift
    with pytest.raises(mf.ModelError, match="left shift 21"):
        load(model_file.pack(model))


def test_quantized_weights_are_symmetric_per_output_channel(model_bytes):
    conv = load(model_bytes).layers[2]  # the 1x1 conv2d after the depthwise
    weights = np.frombuffer(conv.tensors[0], np.int8).reshape(conv.shape[2], -1)
    assert np.all(np.abs(weights).max(axis=1) == 127) and weights.min() >= -127
