"""Views of caller buffers as NumPy arrays, with the natmod's length checks and messages."""

import numpy as np

MESSAGES = {
    "params": "bad parameters",
    "input": "input buffer length does not match the shape",
    "weight": "weight buffer length does not match the shape",
    "bias": "bias, multiplier or shift length does not match the channels",
    "output": "output buffer length does not match the shape",
    "aux": "auxiliary buffer length does not match the shape",
}


def fail(op, kind):
    raise ValueError(f"{op}: {MESSAGES[kind]}")


def view(buf, dtype, what):
    """A writable-if-possible NumPy view of a buffer-protocol object; never a copy."""
    mv = memoryview(buf).cast("B")
    itemsize = np.dtype(dtype).itemsize
    bits = "int32" if itemsize == 4 else "int16"
    if len(mv) % itemsize:
        raise ValueError(f"{what}: byte length is not a multiple of {itemsize} ({bits} elements)")
    view = np.frombuffer(mv, dtype=dtype)
    # The C kernels refuse what a Cortex-M0 would fault on: an int16/int32 buffer at an odd address
    # (an empty one is never read).
    if len(view) and view.ctypes.data % itemsize:
        raise ValueError(f"{what}: address is not a multiple of {itemsize} ({bits} elements)")
    return view


def s8(buf, what):
    return view(buf, np.int8, what)


def s32(buf, what):
    return view(buf, np.int32, what)


def scratch(buf):
    """A kernel's optional work space: any writable buffer, as the natmod asks of it; never used."""
    if buf is not None and memoryview(buf).readonly:
        raise TypeError("object with buffer protocol required")


def params(op, buf, count):
    p = s32(buf, "params")
    if len(p) != count:
        fail(op, "params")
    return [int(v) for v in p]


def require(op, ok, kind):
    if not ok:
        fail(op, kind)


def int8_range(*values):
    return all(-128 <= v <= 127 for v in values)


def int32_range(*values):
    return all(-(1 << 31) <= v < (1 << 31) for v in values)


def sized(buf, what):
    """A view of a tensor typed by its element size (1 = int8, 2 = int16, 4 = int32), or None for
    any other size, which the kernels reject as bad parameters."""
    dtype = {1: np.int8, 2: np.int16, 4: np.int32}.get(memoryview(buf).itemsize)
    return None if dtype is None else view(buf, dtype, what)


def requant_ok(multiplier, shift):
    return bool(np.all(multiplier >= 0) and np.all(shift >= -31) and np.all(shift <= 30))


def clamp_into(out, y, act_min, act_max):
    out[...] = np.clip(y, act_min, act_max).astype(np.int8)
