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

# The board's side, for the virtual board (main(sys.argv[1], sys.argv[2])) and the emulated ones
# (test_qemu_parity.py). Every buffer goes to 0 to 3 bytes past an aligned address, in whole
# elements: int8 anywhere, int16 at 0 or 2, int32 aligned (docs/kernels.md): a kernel that loads a
# word from an int8 or int16 buffer faults on a Cortex-M0. The results file holds per case: u32
# length and the result ("r<value>" or "e<message>"); per buffer argument: u8 its address modulo
# 4, u32 length and its bytes after the call.
BOARD_RUNNER = kernel_calls.READER + r'''
import qnn, uctypes

def placed(a, at):
    """a copy of `a` at `at` bytes past an aligned address, rounded down to whole elements"""
    skip = at // (len(bytes(a)) // len(a)) if len(a) else 0
    b = a[:0]  # the same type (MicroPython's arrays do not tell their typecode)
    for _ in range(skip):
        b.append(0)
    b.extend(a)
    return memoryview(b)[skip:]

def main(src, dst):
    with open(src, "rb") as f, open(dst, "wb") as out:
        for index, (op, args) in enumerate(read_calls(f)):
            args = [a if isinstance(a, int) else placed(a, (index + i) % 4) for i, a in enumerate(args)]
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
                    out.write(struct.pack("<BI", uctypes.addressof(a) % 4, len(b)))
                    out.write(b)
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


def read_results(path, cases):
    """[(result, buffers' bytes, buffers' addresses modulo 4)] as BOARD_RUNNER wrote them."""
    results = []
    with open(path, "rb") as f:
        for op, args in cases:
            (n,) = struct.unpack("<I", f.read(4))
            result, buffers, offsets = f.read(n).decode(), [], []
            for a in args:
                if not isinstance(a, int):
                    at, n = struct.unpack("<BI", f.read(5))
                    offsets.append(at)
                    buffers.append(f.read(n))
            results.append((result, buffers, offsets))
        assert not f.read(1), "more results than cases"
    return results


def run_board(board, tmp_path, cases, heap="192K"):
    """[(result, buffers after the call)] of the cases on the virtual board."""
    src, dst, runner = tmp_path / "cases.bin", tmp_path / "results.bin", tmp_path / "parity_runner.py"
    kernel_calls.write_calls(src, cases)
    runner.write_text(BOARD_RUNNER + "\nimport sys\nmain(sys.argv[1], sys.argv[2])\n")
    board.run_file(runner, heap=heap, args=[src, dst])
    return [(result, buffers) for result, buffers, _ in read_results(dst, cases)]


def assert_parity(board, tmp_path, cases, heap="192K", scratch=False):
    """Runs every case on both backends; fails on the first difference, naming the case. With
    `scratch`, each case's last argument is a kernel's work space, whose bytes afterwards are
    unspecified (qnn.h): not compared."""
    on_board = run_board(board, tmp_path, cases, heap=heap)
    for index, ((op, args), got) in enumerate(zip(cases, on_board)):
        expected = run_reference(op, args)
        if scratch:
            expected, got = (expected[0], expected[1][:-1]), (got[0], got[1][:-1])
        if got != expected:
            raise AssertionError(
                f"case {index} ({op}) differs:\n  reference: {expected[0]} {[b.hex() for b in expected[1]]}\n"
                f"  board:     {got[0]} {[b.hex() for b in got[1]]}\n  args: {args!r}")
