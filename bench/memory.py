"""make bench-memory: the heap each model and study method holds on the emulated Cortex-M0
(32-bit objects, unlike the x64 virtual board), for each way of putting mcutrain on a board:

    romfs   qemu-m0: the package (.mpy), the armv6m natmod and the model in a ROM filesystem, as
            `mcutrain deploy --port qemu-m0` lays them out; the natmod's code is copied into
            the heap when imported, bytecode and model weights are read in place
    frozen  qemu-m0-frozen: the package frozen and qnn built into the firmware; the ROM image
            holds only the model

Printed, never judged: the heap in use after importing the package and qnn (`imports`), and
after 20 training steps at batch 1 (`gc.mem_alloc()` after a collection, so the peak: steps
allocate nothing), each on a freshly booted board with a 190 KB heap; MemoryError where the
plan does not fit.
"""

import sys
import tempfile
from pathlib import Path

from mcutrain_host.board import qemu
from mcutrain_host.board.micropython import REPO
from mcutrain_host.experiment.methods import METHODS

MODELS = ("tiny", "small")
MODES = {"romfs": "qemu-m0", "frozen": "qemu-m0-frozen"}
STEPS = 20

RUN = """
import gc
gc.collect()
start = gc.mem_alloc()
import qnn
from mcutrain import model
from mcutrain.trainer import Trainer
gc.collect()
imports = gc.mem_alloc() - start
try:
    m = model.load('/rom/model.mcut')
    t = Trainer(m, batch=1, **{settings!r})
    x = bytes((i * 37) & 0xFF for i in range(m.input_size))
    if {sparse}:
        t.select_layers(x, b'\\x03', {sparse})
    for i in range({steps}):
        t.step(x, bytes([i % 10]))
    gc.collect()
    print(imports, gc.mem_alloc())
except MemoryError:
    print(imports, 'MemoryError')
"""


def measure(board, model, method, tmp):
    image = qemu.deploy_image(board, REPO / "models" / f"{model}.mcut", Path(tmp) / f"{board}.romfs")
    q = qemu.QemuBoard(board, image, serve=False)
    try:
        code = RUN.format(settings=method.trainer, sparse=method.sparse, steps=STEPS)
        return q.exec(code, timeout=1800).decode().split()
    finally:
        q.close()


def main():
    methods = [name for name, m in METHODS.items() if m.family in ("zo", "fqt")]
    print(f"heap in bytes on qemu-m0 (Cortex-M0, 190 KB heap), after {STEPS} steps at batch 1; "
          f"imports: the package and qnn")
    print(f"{'model':6} {'method':14}" + "".join(f" {mode + ' imports':>15} {mode + ' steps':>13}" for mode in MODES))
    with tempfile.TemporaryDirectory() as tmp:
        for model in MODELS:
            for name in methods:
                row = f"{model:6} {name:14}"
                for board in MODES.values():
                    imports, heap = measure(board, model, METHODS[name], tmp)
                    row += f" {imports:>15} {heap:>13}"
                print(row, flush=True)


if __name__ == "__main__":
    sys.exit(main())
