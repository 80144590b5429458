"""An int32 buffer at an address 4 does not divide (a memoryview of a bytearray from an odd
offset) is a ValueError with the same message from the natmod and from the reference, on the
virtual board and on the emulated Cortex-M0, where the access itself would be a HardFault."""

import subprocess
import sys
from pathlib import Path

from mcutrain_host.board import qemu
from test_qemu_boards import pytestmark as needs_qemu
from test_trainer import TINY

SCRIPT = r'''
try:
    import qnn
except ImportError:  # CPython: the reference
    from mcutrain import reference as qnn
from array import array


def address(b):
    try:
        import uctypes
        return uctypes.addressof(b)
    except ImportError:
        import ctypes
        return ctypes.addressof((ctypes.c_char * len(b)).from_buffer(b))


raw = bytearray(64)
base = -address(raw) % 4


def at(offset, n):
    return memoryview(raw)[base + offset:base + offset + n]


def show(f):
    try:
        print(f())
    except ValueError as e:
        print("ValueError:", e)


params = array("i", [2, 1, 0, -128, 127])
for offset in (0, 1, 2, 3):
    show(lambda: qnn.crc32(at(offset, 4), b"123456789"))
    show(lambda: qnn.requantize(bytearray(2), at(offset, 8), array("i", [1 << 30]), array("i", [0]), params))
    show(lambda: qnn.fill(at(offset, 8), 0))  # int8: any address
'''


def expected():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    lines = proc.stdout.splitlines()
    assert lines.count("ValueError: state: address is not a multiple of 4 (int32 elements)") == 3
    assert lines.count("ValueError: acc: address is not a multiple of 4 (int32 elements)") == 3
    return lines


def test_on_the_virtual_board(board, tmp_path):
    assert board.run(SCRIPT).splitlines() == expected()


@needs_qemu[0]
@needs_qemu[1]
def test_on_the_emulated_cortex_m0(tmp_path):
    q = qemu.QemuBoard("qemu-m0", qemu.deploy_image("qemu-m0", TINY, Path(tmp_path) / "image"), serve=False)
    try:
        assert q.exec(SCRIPT).decode().replace("\r\n", "\n").splitlines() == expected()
    finally:
        q.close()
