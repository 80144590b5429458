"""int32_view: a planned arena's bytes as int32 elements, alike on the board and in the reference."""

import subprocess
import sys

from mcutrain_host.board import micropython

PROGRAM = """
from mcutrain.backend import kernels

arena = bytearray(32)
v = kernels.int32_view(memoryview(arena)[8:24])
v[1] = -2
print(len(v), v[1], bytes(arena[8:20]).hex())
kernels.fill(v, 7)  # typed by the view: int32 elements, not bytes
print(bytes(arena[8:24]).hex(), bytes(arena[:8]).hex(), bytes(arena[24:]).hex())
print(len(v[1:3]), v[2])
for bad in (memoryview(arena)[2:10], memoryview(arena)[8:14], arena, memoryview(bytes(8))):
    try:
        kernels.int32_view(bad)
        print("accepted")
    except (ValueError, TypeError) as e:
        print(type(e).__name__, e)
"""

EXPECTED = """4 -2 00000000feffffff00000000
07000000070000000700000007000000 0000000000000000 0000000000000000
2 7
ValueError view: address is not a multiple of 4 (int32 elements)
ValueError view: byte length is not a multiple of 4 (int32 elements)
ValueError int32_view: takes a memoryview
TypeError object with buffer protocol required
"""


def test_views_write_through_and_refuse_what_a_kernel_would(board, tmp_path):
    program = tmp_path / "views.py"
    program.write_text(PROGRAM)
    on_board = board.run_file(program)
    proc = subprocess.run([sys.executable, str(program)], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(micropython.device_path())})
    assert proc.returncode == 0, proc.stderr
    assert on_board == proc.stdout == EXPECTED
