"""make bench-memory: what each model and study method's plan holds, the heap it takes on the
emulated Cortex-M0 (32-bit objects, unlike the x64 virtual board) and the instructions of its
step, for each way of putting mcutrain on a board:

    files   qemu-m0: the package (.mpy), the armv6m natmod and the model on a FAT filesystem, as
            `mcutrain deploy` leaves them on a board's flash filesystem; importing copies the
            bytecode and the natmod's code into the heap, and the model is read into RAM
    romfs   qemu-m0: the same files in its ROMFS partition (`mcutrain deploy --romfs`); the
            natmod's code is copied into the heap, bytecode and model weights are read in place
    frozen  qemu-m0-frozen: the package frozen and qnn built into the firmware; the ROMFS
            image holds only the model

Printed, never judged, each on a freshly booted board with a 190 KB heap: `plan`, the plan the
trainer picked for the room there is (fast, lean, or lean keeping some restart tensors);
`planned`, the bytes that plan holds, counted as `make bench-plans` counts them, and `x
inference`, their multiple of inference alone; `instructions`, those of one more step after the
20 (QEMU's -icount, the board's 32-bit timer); `imports`, the heap
that importing the package and qnn takes; `steps`, the heap in use after 20 training steps at
batch 1 (`gc.mem_alloc()` after a collection, so the peak: steps allocate nothing); `least`,
the smallest free heap, before the imports, that still loads the model, builds the trainer
(which picks its plan for the room there is) and runs the steps. `least` comes from a bisection
over a block taken from the heap before the imports, to 1 KB: each trial runs 2 steps. Where a run
of all 20 fails at the result (fragmentation makes the edge not quite monotonic), the heap grows
a KB at a time until all 20 run; the figure printed is that heap. MemoryError where nothing fits.

The FAT volume lives in a file on the host, reached through ARM semihosting like qemu.py's
/flash, so its bytes take no heap, as a board's flash does not.
"""

import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mcutrain_host import instructions
from mcutrain_host.board import package, qemu
from mcutrain_host.board.micropython import REPO
from mcutrain_host.experiment import costs
from mcutrain_host.experiment.methods import METHODS

MODELS = ("tiny", "small")
MODES = {"files": "qemu-m0", "romfs": "qemu-m0", "frozen": "qemu-m0-frozen"}
STEPS = 20
TRIAL_STEPS = 2
RESOLUTION = 1024

# files: format a FAT volume in a host file, copy the image's files onto it, and take /rom away.
TO_FAT = """
import os, gc
class _Blocks:
    def __init__(s, name, count):
        z = _name(name)
        s.handle, s.count = _call(1, uctypes.addressof(z), 7, len(z) - 1), count  # SYS_OPEN w+b
    def readblocks(s, n, buf):
        _call(10, s.handle, n * 512)  # SYS_SEEK
        _call(6, s.handle, uctypes.addressof(buf), len(buf))  # SYS_READ
    def writeblocks(s, n, buf):
        _call(10, s.handle, n * 512)
        _call(5, s.handle, uctypes.addressof(buf), len(buf))  # SYS_WRITE
    def ioctl(s, op, arg):
        return s.count if op == 4 else 512 if op == 5 else 0
_bdev = _Blocks('fat.img', 2048)
vfs.VfsFat.mkfs(_bdev)
vfs.mount(vfs.VfsFat(_bdev), '/fs')
def _copy(src, dst, buf):
    for entry in os.ilistdir(src):
        name, kind = entry[0], entry[1]
        if kind == 0x4000:
            os.mkdir(dst + '/' + name)
            _copy(src + '/' + name, dst + '/' + name, buf)
            continue
        with open(src + '/' + name, 'rb') as a, open(dst + '/' + name, 'wb') as b:
            while True:
                n = a.readinto(buf)
                if not n:
                    break
                b.write(memoryview(buf)[:n])
_copy('/rom', '/fs', bytearray(512))
vfs.umount('/rom')
for _i in range(len(sys.path)):
    sys.path[_i] = sys.path[_i].replace('/rom', '/fs')
"""

RUN = """
import gc
gc.collect()
# Blocks that leave about `room` bytes free (0: none), sized on the board: two boots of one board
# differ by a few blocks. In pieces, each as large as the heap gives: after the copy to FAT the
# free heap is in holes, none as large as gc.mem_free().
_blocks = []
_size = gc.mem_free() - {room} if {room} else 0
while _size >= 64:
    try:
        _blocks.append(bytearray(_size))
        _size = gc.mem_free() - {room}
    except MemoryError:
        _size //= 2
gc.collect()
free = gc.mem_free()
start = gc.mem_alloc()
try:
    import qnn
    from mcutrain import model
    from mcutrain.trainer import Trainer
    gc.collect()
    imports = gc.mem_alloc() - start
{train}
    gc.collect()
    print(free, imports, gc.mem_alloc())
{measure}
except MemoryError:
    print(free, 'MemoryError')
"""

# After the steps are counted: the plan's bytes (as bench-plans counts them, weights read in
# place included) and one more step's instructions.
MEASURE = instructions.INSTRUCTIONS + """
memory = t.memory()
print(memory['total'] - memory['arena'] + memory['planned'] + memory['flash'])
print(instructions(t.step, x, bytes([3])))
print(t.plan_choice)
"""


def run(mode, model, method, room, steps, tmp, measure=False):
    """On a freshly booted board whose heap is filled to leave about `room` bytes free (0: all of
    it): (free heap before the imports, imports, heap after the steps), the last two None on a
    MemoryError; with `measure`
    (QEMU counting instructions), also the plan's bytes, the instructions of a step and the
    trainer's plan choice."""
    board = MODES[mode]
    with tempfile.TemporaryDirectory(dir=tmp) as flash:
        image = qemu.deploy_image(board, REPO / "models" / f"{model}.mcut", Path(flash) / "deploy.romfs")
        q = qemu.QemuBoard(board, image, serve=False, flash=flash, icount=measure)
        try:
            if mode == "files":
                q.exec(TO_FAT, timeout=300)
            model_path = "/fs/model.mcut" if mode == "files" else "/rom/model.mcut"
            code = RUN.format(room=room, train=textwrap.indent(method.board_steps(model, model_path, steps), "    "),
                              measure=textwrap.indent(MEASURE if measure else "", "    "))
            lines = q.exec(code, timeout=1800).decode().splitlines()
        finally:
            q.close()
    out = lines[0].split()
    if out[1] == "MemoryError":
        return (int(out[0]), None, None) + ((None, None, None) if measure else ())
    found = tuple(int(v) for v in out)
    if measure:
        found += (int(lines[1]), int(lines[2]), plan_name(lines[3]))
    return found


def plan_name(choice):
    """'fast', 'lean', or 'keep 3/5' (a lean plan keeping those restart tensors), from a
    trainer's plan_choice."""
    words = choice.split(":")[0].split()
    return "keep " + words[3] if "keeping" in words else words[0].rstrip(",")


def least(mode, model, method, tmp):
    """[plan, planned bytes, imports, steps, least free heap, instructions of a step] for one row
    and mode (see the module's text)."""
    free, imports, steps = run(mode, model, method, 0, STEPS, tmp)
    if steps is None:
        return ["MemoryError"] * 6
    # A run of its own: measuring's text takes heap too, so the heap figures come from runs without it.
    planned, step_instructions, plan = run(mode, model, method, 0, STEPS, tmp, measure=True)[3:]
    if plan is None:  # at the heap's edge, measuring's text took the room the steps had
        planned = step_instructions = plan = "no room"
    runs, fails = free, 0  # free heaps, before the imports, known to run and to fail
    while runs - fails > RESOLUTION:
        trial = (runs + fails) // 2
        got, _, ok = run(mode, model, method, trial, TRIAL_STEPS, tmp)
        if ok is None:
            fails = max(fails, got)
        else:
            runs = min(runs, got)
    while True:
        got, _, ok = run(mode, model, method, runs, STEPS, tmp)
        if ok is not None:
            return [plan, planned, imports, steps, got, step_instructions]
        runs = min(runs + RESOLUTION, free)  # the whole heap ran all the steps, above


def main():
    methods = [name for name, m in METHODS.items() if m.family in ("zo", "fqt")]
    inference = {model: costs.planned(REPO / "models" / f"{model}.mcut", "int8", None, None) for model in MODELS}
    print(f"qemu-m0 (Cortex-M0, 190 KB heap), batch 1. plan: the trainer's choice for the room there is; "
          f"planned: the bytes it holds (weights, parameter blocks, arena, training state; as make bench-plans "
          f"counts them), and x inference, its multiple of inference alone ({', '.join(f'{m} {b}' for m, b in inference.items())} "
          f"bytes); heap in bytes: imports, the package and qnn; steps, in use after {STEPS} steps; least, the "
          f"smallest free heap before the imports that runs them; instructions of one step; no room: the {STEPS} steps "
          f"ran, but not beside the code that counts instructions and bytes")
    columns = ("plan", "planned", "x inference", "imports", "steps", "least", "instructions")
    print(f"{'model':6} {'method':14} {'mode':6}" + "".join(f" {c:>12}" for c in columns))
    package.compiled()  # once, before the boards that deploy it run side by side
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as pool:  # each board is one QEMU
        cells = [(model, name, mode) for model in MODELS for name in methods for mode in MODES]
        futures = {cell: pool.submit(least, cell[2], cell[0], METHODS[cell[1]], tmp) for cell in cells}
        # Printed once every board is done: building an image silences stdout for a moment
        # (deploy.romfs_image), and a row printed then would be lost.
        results = {cell: future.result() for cell, future in futures.items()}
    for (model, name, mode), found in results.items():
        plan, planned = found[:2]
        ratio = f"{planned / inference[model]:.2f}" if isinstance(planned, int) else planned
        print(f"{model:6} {name:14} {mode:6}" + "".join(f" {v:>12}" for v in [plan, planned, ratio] + found[2:]))


if __name__ == "__main__":
    sys.exit(main())
