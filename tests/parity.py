"""Kernel parity: the same calls on the NumPy reference (host) and the natmod (virtual board).

A case is (op, args): each arg is an int, a bytearray, or an array.array. The host runs every
case on the reference, ships the cases to the board in one binary file, the board runs them on
`qnn` and writes back the return value (or ValueError message) and every buffer argument's bytes.
Both sides must then agree byte for byte, errors included.
"""

import struct
from array import array

from mcutrain import reference
from mcutrain_host import kernel_calls

BOARD_RUNNER = kernel_calls.READER + r'''
import sys, qnn

def main(src, dst):
    with open(src, "rb") as f, open(dst, "wb") as out:
        for op, args in read_calls(f):
            try:
                result = "r%d" % getattr(qnn, op)(*args)
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
    kernel_calls.write_calls(src, cases)
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
