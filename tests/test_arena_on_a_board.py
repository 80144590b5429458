"""One arena on a 32-bit board (issue #17): on the emulated Cortex-M0 with the package and qnn in
its firmware and a 140 KB heap, the REPL session that failed before (an FQT trainer built after a
ZO one was dropped could not find 18 KB in 93 KB free): ZO -> FQT -> hybrid -> ZO on one model,
three times over, and re-plans by t.set, all in the arena the first trainer took, and nothing
left behind outside it."""

import shutil

import pytest

from mcutrain import model as model_module
from mcutrain.trainer import Trainer
from mcutrain_host.board import qemu
from test_trainer import TINY

pytestmark = [
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None,
                       reason="qemu-system-arm is missing (apt-get install qemu-system-arm)"),
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None and not qemu.firmware("qemu-m0-frozen").exists(),
                       reason="the qemu firmware is not built and arm-none-eabi-gcc is missing"),
]

METHODS = [{"method": "zo", "mode": "mix"}, {"method": "fqt"}, {"method": "hybrid", "mode": "mix"},
           {"method": "zo", "mode": "wp"}]
CYCLES = 3

SESSION = """
import gc
from mcutrain import model
from mcutrain.trainer import Trainer
m = model.load('/rom/model.mcut')
x = bytes((i * 37) & 0xFF for i in range(m.input_size))
y = bytes([3])

def show(t):
    t.step(x, y)
    gc.collect()
    print(t.method, t.plan_choice.split(':')[0], m.planned, len(m.arena), id(m.arena), gc.mem_alloc())

t = None
for cycle in range({cycles}):
    for settings in {methods!r}:
        t = None
        gc.collect()
        t = Trainer(m, **settings)
        show(t)
t.set(queries=20)
show(t)
t.set(layers=[4, 6], mode='np')
show(t)
"""


def test_switching_methods_reuses_one_arena_on_a_32_bit_board_with_a_stock_heap(tmp_path):
    """The first trainer plans the largest arena; every later plan goes into the same block, on
    the Cortex-M0's 140 KB."""
    first = Trainer(model_module.load(str(TINY)), **METHODS[0]).model.planned
    assert all(Trainer(model_module.load(str(TINY)), **s).model.planned <= first for s in METHODS)
    image = qemu.deploy_image("qemu-m0-frozen", TINY, tmp_path / "deploy.romfs")
    board = qemu.QemuBoard("qemu-m0-frozen", image, serve=False, heap=140 * 1024)
    try:
        lines = board.exec(SESSION.format(methods=METHODS, cycles=CYCLES), timeout=600).decode().split("\r\n")
    finally:
        board.close()
    rows = [line.split() for line in lines if line.strip()]
    assert [row[0] for row in rows] == [s["method"] for s in METHODS] * CYCLES + ["zo", "zo"], lines
    assert all(row[1] == "fast" and int(row[2]) <= int(row[3]) == first for row in rows), rows
    assert len({row[4] for row in rows}) == 1, "a plan took a new arena"
    # Re-planning leaves nothing behind outside the arena: each method's trainer holds the same
    # heap in the last cycle as in the one before (the first also interns names for good).
    heap = [int(row[5]) for row in rows[:len(METHODS) * CYCLES]]
    assert heap[-len(METHODS):] == heap[-2 * len(METHODS):-len(METHODS)], heap
