"""Writing and reading model files on the host (docs/model-format.md).

The struct layouts are the device loader's (mcutrain.model_file), and reading *is* the device
loader: a file the host reads back is a file the board accepts.
"""

import struct
import zlib

from mcutrain import model_file as mf


def pack(model):
    """The bytes of a ModelFile whose layer records hold their tensors."""
    tensors = [t for layer in model.layers for t in layer.tensors]
    tables_end = mf.HEADER_SIZE + len(model.layers) * mf.LAYER_SIZE + len(tensors) * mf.TENSOR_SIZE
    layer_table, tensor_table, data = [], [], bytearray()
    data_start = mf.align4(tables_end)
    first_tensor = 0
    for layer in model.layers:
        b = layer.inputs[1] if layer.op == mf.ADD else mf.NO_INPUT
        layer_table.append(struct.pack(mf.LAYER, layer.op, layer.zero_point, layer.act_min, layer.act_max,
                                       layer.inputs[0], b, *layer.kernel, *layer.stride, *layer.pad, *layer.shape,
                                       first_tensor, 0, layer.scale))
        first_tensor += len(layer.tensors)
        for tensor in layer.tensors:
            raw = memoryview(tensor).cast("B")
            element_size = memoryview(tensor).itemsize
            tensor_table.append(struct.pack(mf.TENSOR, element_size, 0, 0, data_start + len(data),
                                            len(raw) // element_size))
            data += raw
            data += bytes(mf.align4(len(data)) - len(data))
    size = data_start + len(data) + mf.CRC_SIZE
    h, w, c = model.input_shape
    header = struct.pack(mf.HEADER, mf.MAGIC, mf.VERSION, len(model.layers), len(tensors), h, w, c,
                         model.input_scale, model.input_zero_point, 0, 0, size)
    body = header + b"".join(layer_table) + b"".join(tensor_table) + bytes(data_start - tables_end) + data
    return body + struct.pack("<I", zlib.crc32(body))


def write(path, model):
    with open(path, "wb") as f:
        f.write(pack(model))


def read(path):
    """The validated ModelFile at path (raises mcutrain.model_file.ModelError)."""
    with open(path, "rb") as f:
        return mf.load(f)
