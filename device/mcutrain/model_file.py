"""The model file (docs/model-format.md): parse, validate, then read the tensors.

`load(stream)` checks everything the file says (magic, version, counts, sizes, offsets, CRC,
that the shapes chain, the requantization ranges) before it allocates anything but its
tables, so a damaged or hostile file costs memory in proportion to its own size (the fuzz
test holds it to twice the size). Every fault is a ModelError. The host's writer packs the
same structs, so there is one definition of the format.
"""

import struct
from array import array

from mcutrain.backend import kernels

MAGIC = b"MCUT"
VERSION = 1
# magic, version, layer count, tensor count, input h, w, c, input scale, input zero point,
# two reserved fields (zero), file size
HEADER = "<4sHHHHHHfbBHI"
HEADER_SIZE = 28
# op, out zero point, act_min, act_max, input a, input b, kernel h, w, stride h, w,
# pad top, left, out h, w, c, first tensor, reserved (zero), out scale
LAYER = "<BbbbHHBBBBBBHHHHHf"
LAYER_SIZE = 28
# element size (1 = int8, 4 = int32), two reserved fields (zero), offset, element count
TENSOR = "<BBHII"
TENSOR_SIZE = 12
CRC_SIZE = 4
NO_INPUT = 0xFFFF
# A tensor (one sample) above 16 M elements is no microcontroller model: a bound that keeps
# a planned arena finite whatever the header's input shape says.
MAX_ELEMENTS = 1 << 24

CONV2D, DEPTHWISE_CONV2D, FULLY_CONNECTED, MAX_POOL, AVG_POOL, GLOBAL_AVG_POOL, ADD = 1, 2, 3, 4, 5, 6, 7
OP_NAMES = {CONV2D: "conv2d", DEPTHWISE_CONV2D: "depthwise_conv2d", FULLY_CONNECTED: "fully_connected",
            MAX_POOL: "max_pool", AVG_POOL: "avg_pool", GLOBAL_AVG_POOL: "global_avg_pool", ADD: "add"}
WINDOWED = (CONV2D, DEPTHWISE_CONV2D, MAX_POOL, AVG_POOL)
WEIGHTED = (CONV2D, DEPTHWISE_CONV2D, FULLY_CONNECTED)
# An add's one int32 tensor: a_multiplier, a_shift, b_multiplier, b_shift, left_shift,
# out_multiplier, out_shift (TFLite's int8 add).
ADD_REQUANT = 7
MAX_LEFT_SHIFT = 20


class ModelError(ValueError):
    """A model file is malformed, or a model is used in a way its plan does not allow."""


class LayerRecord:
    """One row of the layer table, with its tensors once they are read.

    Weighted ops: tensors = [weights int8, bias int32, multiplier int32, shift int32];
    add: [its 7 requantization ints]; pooling: none.
    """

    def __init__(self, op, inputs, shape, kernel, stride, pad, scale, zero_point, act_min, act_max, tensors=()):
        self.op, self.inputs, self.shape = op, inputs, shape
        self.kernel, self.stride, self.pad = kernel, stride, pad
        self.scale, self.zero_point, self.act_min, self.act_max = scale, zero_point, act_min, act_max
        self.tensors = list(tensors)


class ModelFile:
    """A validated model: input quantization, layer records, and every tensor's shape and quantization.

    Tensor t is the input for t = 0 and the output of layer t - 1 otherwise.
    """

    def __init__(self, input_shape, input_scale, input_zero_point, layers):
        self.input_shape, self.input_scale, self.input_zero_point = input_shape, input_scale, input_zero_point
        self.layers = layers

    def shape(self, t):
        return self.layers[t - 1].shape if t else self.input_shape

    def scale(self, t):
        return self.layers[t - 1].scale if t else self.input_scale

    def zero_point(self, t):
        return self.layers[t - 1].zero_point if t else self.input_zero_point


def fail(message, *values):
    raise ModelError("model file: " + (message % values if values else message))


def load(stream, mapped=None):
    """The ModelFile in a seekable binary stream (an open file, io.BytesIO).

    mapped: the same bytes as a read-only buffer, where the file sits in memory-mapped flash
    (a file in ROMFS, whose memoryview is the flash itself). Its int8 weights are then read in
    place, as read-only views that cost no RAM; Model.writable copies those a trainer changes.
    """
    size = stream.seek(0, 2)
    if size < HEADER_SIZE + CRC_SIZE:
        fail("%d bytes, too short for a header and a CRC", size)
    stream.seek(0)
    (magic, version, layer_count, tensor_count, in_h, in_w, in_c, in_scale, in_zp, reserved_a, reserved_b,
     declared_size) = struct.unpack(HEADER, read_exact(stream, HEADER_SIZE))
    if magic != MAGIC:
        fail("not a model file (magic %s, expected %s)", magic, MAGIC)
    if version != VERSION:
        fail("version %d, this loader reads version %d", version, VERSION)
    if declared_size != size:
        fail("header says %d bytes but the file has %d (truncated or padded)", declared_size, size)
    tables_end = HEADER_SIZE + layer_count * LAYER_SIZE + tensor_count * TENSOR_SIZE
    if layer_count < 1 or tables_end + CRC_SIZE > size:
        fail("%d layers and %d tensors do not fit in %d bytes", layer_count, tensor_count, size)
    crc = check_crc(stream, size)
    if reserved_a or reserved_b:
        fail("reserved header fields are not zero")
    if not valid_scale(in_scale):
        fail("input scale %s is not a positive finite number", in_scale)
    input_shape = (in_h, in_w, in_c)
    if not valid_shape(input_shape):
        fail("input shape %dx%dx%d is empty or too large", in_h, in_w, in_c)
    model = ModelFile(input_shape, in_scale, in_zp, [])
    model.crc = crc
    stream.seek(HEADER_SIZE)
    table = read_exact(stream, tables_end - HEADER_SIZE)
    layouts, expected = [], []
    for index in range(layer_count):
        model.layers.append(parse_layer(model, index, table, index * LAYER_SIZE, len(expected)))
        layouts.append(tensor_layout(model, model.layers[index]))
        expected.extend(layouts[index])
    if tensor_count != len(expected):
        fail("the layers need %d tensors, the table has %d", len(expected), tensor_count)
    check_tensor_table(table, layer_count * LAYER_SIZE, expected, align4(tables_end), size - CRC_SIZE)
    read_tensors(stream, mapped, model, layouts, align4(tables_end))
    return model


def check_tensor_table(table, at, expected, data_start, data_end):
    """Each entry is the (element size, count) its layer needs, packed in table order from data_start."""
    offset = data_start
    for i in range(len(expected)):
        element_size, reserved_a, reserved_b, tensor_at, count = struct.unpack_from(TENSOR, table, at + i * TENSOR_SIZE)
        if (element_size, count) != expected[i]:
            fail("tensor %d: %d elements of %d bytes, the layer needs %d of %d",
                 i, count, element_size, expected[i][1], expected[i][0])
        if reserved_a or reserved_b:
            fail("tensor %d: reserved fields are not zero", i)
        if tensor_at != offset:
            fail("tensor %d: offset %d, expected %d (data is packed in table order, 4-byte aligned)", i, tensor_at,
                 offset)
        offset = align4(tensor_at + count * element_size)
    if offset != data_end:
        fail("tensor data ends at %d, the CRC is at %d", offset, data_end)


def read_exact(stream, n):
    data = stream.read(n)
    if data is None or len(data) != n:
        fail("ended early")
    return data


def check_crc(stream, size):
    """zlib's CRC-32 of everything before the last 4 bytes must equal them (little-endian);
    returns them: the model's identity on the link."""
    state = bytearray(4)
    chunk = bytearray(256)
    stream.seek(0)
    remaining = size - CRC_SIZE
    # Whole chunks need no slice, so the loop allocates nothing per chunk.
    while remaining >= len(chunk):
        if stream.readinto(chunk) != len(chunk):
            fail("ended early")
        kernels.crc32(state, chunk)
        remaining -= len(chunk)
    tail = bytearray(remaining)
    if stream.readinto(tail) != remaining:
        fail("ended early")
    kernels.crc32(state, tail)
    if state != read_exact(stream, CRC_SIZE):
        fail("CRC mismatch: the file is damaged")
    return state


def valid_scale(scale):
    return 0.0 < scale < 3.4e38  # also false for NaN


def valid_shape(shape):
    h, w, c = shape
    return h >= 1 and w >= 1 and c >= 1 and h * w * c <= MAX_ELEMENTS


def align4(n):
    return (n + 3) & ~3


def fail_layer(index, op, message, *values):
    fail("layer %d (%s): " + message, index, OP_NAMES.get(op, "op %d" % op), *values)


def parse_layer(model, index, table, at, first_expected):
    """The LayerRecord at `at`, checked against the tensors before it; raises ModelError."""
    (op, zp, act_min, act_max, a, b, k_h, k_w, s_h, s_w, pad_top, pad_left, out_h, out_w, out_c,
     first_tensor, reserved, scale) = struct.unpack_from(LAYER, table, at)
    if op not in OP_NAMES:
        fail_layer(index, op, "unknown op")
    if a > index or (b > index if op == ADD else b != NO_INPUT):
        fail_layer(index, op, "inputs %d, %d are not earlier tensors as its op needs", a, b)
    if act_min > act_max or reserved:
        fail_layer(index, op, "act_min > act_max or a reserved field is not zero")
    if first_tensor != first_expected:
        fail_layer(index, op, "first tensor %d, expected %d", first_tensor, first_expected)
    if not valid_scale(scale):
        fail_layer(index, op, "scale %s is not a positive finite number", scale)
    shape = (out_h, out_w, out_c)
    if not valid_shape(shape):
        fail_layer(index, op, "output %dx%dx%d is empty or too large", out_h, out_w, out_c)
    in_h, in_w, in_c = model.shape(a)
    if op in WINDOWED:
        # Padding up to half the window keeps outputs no larger than inputs.
        if min(k_h, k_w, s_h, s_w) < 1 or 2 * pad_top > k_h - 1 or 2 * pad_left > k_w - 1:
            fail_layer(index, op, "kernel %dx%d, stride %dx%d, padding %d,%d are not a valid window",
                       k_h, k_w, s_h, s_w, pad_top, pad_left)
        expected = ((in_h + 2 * pad_top - k_h) // s_h + 1, (in_w + 2 * pad_left - k_w) // s_w + 1,
                    out_c if op == CONV2D else in_c)
    elif k_h or k_w or s_h or s_w or pad_top or pad_left:
        fail_layer(index, op, "window fields must be zero")
    elif op == FULLY_CONNECTED:
        expected = (1, 1, out_c)
    elif op == GLOBAL_AVG_POOL:
        expected = (1, 1, in_c)
    else:
        expected = model.shape(a)
        if model.shape(b) != expected:
            fail_layer(index, op, "input shapes differ")
    if shape != expected:
        fail_layer(index, op, "output %dx%dx%d, its input %dx%dx%d gives %dx%dx%d", out_h, out_w, out_c,
                   in_h, in_w, in_c, expected[0], expected[1], expected[2])
    if op in (MAX_POOL, AVG_POOL, GLOBAL_AVG_POOL) and (scale != model.scale(a) or zp != model.zero_point(a)):
        fail_layer(index, op, "pooling keeps its input's scale and zero point")
    return LayerRecord(op, (a, b) if op == ADD else (a,), shape, (k_h, k_w), (s_h, s_w), (pad_top, pad_left),
                       scale, zp, act_min, act_max)


def tensor_layout(model, layer):
    """[(element size, count)] of a layer's tensors."""
    out_c = layer.shape[2]
    if layer.op == ADD:
        return [(4, ADD_REQUANT)]
    if layer.op not in WEIGHTED:
        return []
    in_h, in_w, in_c = model.shape(layer.inputs[0])
    k_h, k_w = layer.kernel
    if layer.op == CONV2D:
        weights = out_c * k_h * k_w * in_c
    elif layer.op == DEPTHWISE_CONV2D:
        weights = k_h * k_w * in_c
    else:
        weights = out_c * in_h * in_w * in_c
    return [(1, weights), (4, out_c), (4, out_c), (4, out_c)]


def read_tensors(stream, mapped, model, layouts, offset):
    """Allocates and reads every tensor (validated sizes: at most the file's size in all); int8
    tensors of a mapped file are views of it instead."""
    for index, layer in enumerate(model.layers):
        for element_size, count in layouts[index]:
            stream.seek(offset)
            if element_size == 1 and mapped is not None:
                tensor = mapped[offset:offset + count]
            elif element_size == 1:
                tensor = bytearray(count)
                if stream.readinto(tensor) != count:
                    fail("ended early")
            else:
                tensor = array("i", read_exact(stream, 4 * count))
            layer.tensors.append(tensor)
            offset = align4(offset + element_size * count)
        check_requantization(index, layer)


def check_requantization(index, layer):
    """Multipliers in [0, 2^31), shifts in [-31, 30], an add's left shift in [0, 20]: the kernels' ranges."""
    if layer.op in WEIGHTED:
        multipliers, shifts = layer.tensors[2], layer.tensors[3]
        for i in range(len(multipliers)):
            check_requantization_pair(index, layer, multipliers[i], shifts[i])
    elif layer.op == ADD:
        t = layer.tensors[0]
        if not 0 <= t[4] <= MAX_LEFT_SHIFT:
            fail_layer(index, layer.op, "left shift %d is outside [0, %d]", t[4], MAX_LEFT_SHIFT)
        for i in (0, 2, 5):
            check_requantization_pair(index, layer, t[i], t[i + 1])


def check_requantization_pair(index, layer, multiplier, shift):
    if multiplier < 0 or not -31 <= shift <= 30:
        fail_layer(index, layer.op, "requantization %d, %d is out of range", multiplier, shift)
