"""Instructions counted on the emulated Cortex-M boards (`make bench-arm`, `make bench-memory`,
`mcutrain experiment`).

QEMU runs with -icount shift=0: virtual time advances 1 ns per instruction executed. SysTick,
clocked by the core clock and read through machine.mem32, then counts instructions: the mps2
boards' core clock is 25 MHz (40 instructions per tick), the microbit's 16 MHz (62.5). Measured:
an asm_thumb loop of 2 instructions per iteration, 10^6 iterations, reads 50,000 ticks on qemu-m3
and qemu-m4; the same armv6m natmod call reads 1.5625 times fewer ticks on qemu-m0 than on
qemu-m3. A reading is one run after a collection (under -icount runs repeat to the tick).
SysTick has 24 bits: about a billion instructions on qemu-m0, fewer than some of `small`'s ZO
steps. Steps are counted by the board's 32-bit timer instead (boards/qemu/time.py's ticks_cpu,
clocked like SysTick: read on qemu-m0 against it, 6,856 ticks to SysTick's 6,844 for one loop).
"""

import tempfile
from pathlib import Path

from mcutrain_host.board import qemu

PER_TICK = {"qemu-m0": 62.5, "qemu-m3": 40.0, "qemu-m4": 40.0}


# The board's side: ticks(fn, *args) is the SysTick count of one call.
SYSTICK = r'''
import gc
from machine import mem32

CSR, RVR, CVR = 0xE000E010, 0xE000E014, 0xE000E018
mem32[RVR] = 0xFFFFFF
mem32[CSR] = 5  # on, clocked by the core, no interrupt

def ticks(fn, *args):
    gc.collect()
    mem32[CVR] = 0  # any write restarts the count from RVR and clears COUNTFLAG
    start = mem32[CVR]
    fn(*args)
    end = mem32[CVR]
    if mem32[CSR] & 0x10000:  # COUNTFLAG: the 24-bit counter passed 0
        raise OverflowError("more than 2^24 SysTick ticks")
    return start - end
'''

# The board's side: instructions(fn, *args) of one call, by the board's 32-bit timer (boards/qemu/time.py).
INSTRUCTIONS = r'''
import gc
import time

def instructions(fn, *args):
    gc.collect()
    start = time.ticks_cpu()
    fn(*args)
    return ((time.ticks_cpu() - start) & 0xFFFFFFFF) * 1000 // time.TICKS_CPU_PER_US
'''

STEP = INSTRUCTIONS + r'''
from mcutrain import model
from mcutrain.trainer import Trainer
try:
    m = model.load("/rom/model.mcut")
    x, y = bytes((i * 37) & 0xFF for i in range(m.input_size)), bytes([3])
    t = Trainer(m, **{settings!r})
    if not {scratch!r}:
        m.drop_scratch()
    t.step(x, y)  # the first step, as mcutrain.bench's, is left out
    counted = instructions(t.step, x, y)
    gc.collect()
    print("step", counted, gc.mem_alloc(), t.plan_choice.split(":")[0].split(",")[0])
except Exception as e:  # a plan that does not fit the board: say so
    print("failed", type(e).__name__)
'''


def training_steps(board, model, methods, scratch=True):
    """{name: {instructions of one training step at batch 1, heap in use after it, the plan the
    trainer took: "fast" or "lean"}, or the error's name (a str)} on `board` for each (name,
    Trainer settings) of `methods`, each on a
    freshly booted board (after another plan, a heap's fragments could refuse one that fits),
    with the package, natmod and model in ROMFS. scratch=False drops the kernels' scratch the
    trainer took (Model.drop_scratch): the same steps, without it."""
    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        image = qemu.deploy_image(board, model, Path(tmp) / "steps.romfs")
        q = qemu.QemuBoard(board, image, serve=False, icount=True)
        try:
            for name, settings in methods:
                if found:
                    q.restart()
                kind, *values = q.exec(STEP.format(settings=settings, scratch=scratch), timeout=900).decode().split()
                found[name] = ({"instructions": int(values[0]), "heap": int(values[1]), "plan": values[2]}
                               if kind == "step" else values[0])
        finally:
            q.close()
    return found
