"""Kernel calls shipped to a board: a compact binary file of (op, args) that a small MicroPython
script replays on `qnn`. Used by the parity tests and the kernel benchmark.

File: u32 count, then per call: u8 name length, name, u8 arg count, then per arg a type code
("n" int32, "y" bytearray, or an array typecode), u32 byte length, the bytes.
"""

import struct

READER = r'''
import struct
from array import array

def read_exact(f, n):
    b = f.read(n)
    if len(b) != n:
        raise OSError("truncated call file")
    return b

def read_calls(f):
    (count,) = struct.unpack("<I", read_exact(f, 4))
    for _ in range(count):
        (nlen,) = struct.unpack("<B", read_exact(f, 1))
        op = read_exact(f, nlen).decode()
        (nargs,) = struct.unpack("<B", read_exact(f, 1))
        args = []
        for _ in range(nargs):
            code = read_exact(f, 1).decode()
            (size,) = struct.unpack("<I", read_exact(f, 4))
            data = read_exact(f, size)
            if code == "n":
                args.append(struct.unpack("<i", data)[0])
            elif code == "y":
                args.append(bytearray(data))
            else:
                args.append(array(code, data))
        yield op, args
'''


def encode_arg(arg):
    if isinstance(arg, int):
        return b"n" + struct.pack("<Ii", 4, arg)
    if isinstance(arg, (bytes, bytearray)):
        return b"y" + struct.pack("<I", len(arg)) + bytes(arg)
    data = arg.tobytes()
    return arg.typecode.encode() + struct.pack("<I", len(data)) + data


def write_calls(path, calls):
    with open(path, "wb") as f:
        f.write(struct.pack("<I", len(calls)))
        for op, args in calls:
            f.write(struct.pack("<B", len(op)) + op.encode() + struct.pack("<B", len(args)))
            for a in args:
                f.write(encode_arg(a))
