"""Kernel parity: the same calls on the NumPy reference (host) and the natmod (virtual board).

A case is (op, args): each arg is an int, a bytearray, or an array.array. The host runs every
case on the reference, ships the cases to the board in one binary file, the board runs them on
`qnn` and writes back the return value (or ValueError message) and every buffer argument's bytes.
Both sides must then agree byte for byte, errors included.
"""

import struct
from array import array

from mcutrain import reference

BOARD_RUNNER = r'''
import sys, struct, qnn
from array import array

def read_exact(f, n):
    b = f.read(n)
    if len(b) != n:
        raise OSError("truncated case file")
    return b

def main(src, dst):
    with open(src, "rb") as f, open(dst, "wb") as out:
        (count,) = struct.unpack("<I", read_exact(f, 4))
        for _ in range(count):
            (nlen,) = struct.unpack("<B", read_exact(f, 1))
            op = getattr(qnn, read_exact(f, nlen).decode())
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
            try:
                result = "r%d" % op(*args)
            except ValueError as e:
                result = "e" + str(e)
            r = result.encode()
            out.write(struct.pack("<I", len(r)))
            out.write(r)
            for a in args:
                if not isinstance(a, int):
                    b = bytes(a)
                    out.write(struct.pack("<I", len(b)))
                    out.write(b)

main(sys.argv[1], sys.argv[2])
'''


def _encode_arg(arg):
    if isinstance(arg, int):
        return b"n" + struct.pack("<Ii", 4, arg)
    if isinstance(arg, (bytes, bytearray)):
        return b"y" + struct.pack("<I", len(arg)) + bytes(arg)
    data = arg.tobytes()
    return arg.typecode.encode() + struct.pack("<I", len(data)) + data


def _copy(arg):
    if isinstance(arg, int):
        return arg
    if isinstance(arg, (bytes, bytearray)):
        return bytearray(arg)
    return array(arg.typecode, arg)


def run_reference(op, args):
    """Returns (result, buffers after the call)."""
    args = [_copy(a) for a in args]
    try:
        result = "r%d" % getattr(reference, op)(*args)
    except ValueError as e:
        result = "e" + str(e)
    return result, [bytes(a) for a in args if not isinstance(a, int)]


def run_board(board, tmp_path, cases, heap="192K"):
    src, dst, runner = tmp_path / "cases.bin", tmp_path / "results.bin", tmp_path / "parity_runner.py"
    with open(src, "wb") as f:
        f.write(struct.pack("<I", len(cases)))
        for op, args in cases:
            f.write(struct.pack("<B", len(op)) + op.encode() + struct.pack("<B", len(args)))
            for a in args:
                f.write(_encode_arg(a))
    runner.write_text(BOARD_RUNNER)
    board.run_file(runner, heap=heap, args=[src, dst])
    results = []
    with open(dst, "rb") as f:
        for op, args in cases:
            (n,) = struct.unpack("<I", f.read(4))
            result = f.read(n).decode()
            buffers = []
            for a in args:
                if not isinstance(a, int):
                    (n,) = struct.unpack("<I", f.read(4))
                    buffers.append(f.read(n))
            results.append((result, buffers))
    return results


def assert_parity(board, tmp_path, cases, heap="192K"):
    """Runs every case on both backends; fails on the first difference, naming the case."""
    on_board = run_board(board, tmp_path, cases, heap=heap)
    for index, ((op, args), got) in enumerate(zip(cases, on_board)):
        expected = run_reference(op, args)
        if got != expected:
            raise AssertionError(
                f"case {index} ({op}) differs:\n  reference: {expected[0]} {[b.hex() for b in expected[1]]}\n"
                f"  board:     {got[0]} {[b.hex() for b in got[1]]}\n  args: {args!r}")
