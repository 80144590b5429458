"""Issue 16's stock heap: on the emulated Cortex-M0 with the package frozen and qnn in its
firmware, a 140 KB heap (an RP2040's free heap less what a user's own code takes) trains `tiny`
and `small` by every method of the study, 20 steps each on a freshly booted board, to the bytes
CPython computes; `tiny` by every method in 64 KB as well. The trainer picks its plan for the
free heap (mcutrain.trainer: fast where it fits, else lean, keeping what restart tensors fit)."""

import shutil
import subprocess
import sys

import pytest

from mcutrain_host.board import deploy, micropython, qemu
from mcutrain_host.experiment.methods import METHODS

pytestmark = [
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None,
                       reason="qemu-system-arm is missing (apt-get install qemu-system-arm)"),
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None and not qemu.firmware("qemu-m0-frozen").exists(),
                       reason="the qemu firmware is not built and arm-none-eabi-gcc is missing"),
]

STUDY = [name for name, m in METHODS.items() if m.family in ("zo", "fqt")]
STEPS = 20

# Run unchanged by the board and by CPython: 20 steps of batch 1 (Method.board_steps), then a
# CRC-32 of every weight and bias tensor, and the plan the trainer took.
CHECK = """
from array import array
from mcutrain.backend import kernels
crc = array('i', [0])
for layer in m.layers:
    if layer.weight is not None:
        kernels.crc32(crc, layer.weight)
        kernels.crc32(crc, layer.bias)
print('%08x' % (crc[0] & 0xFFFFFFFF), t.plan_choice.split(':')[0].split(' ')[0])
"""


def program(model, model_path, name):
    method = METHODS[name]
    return "import gc\n" + method.board_steps(model, model_path, STEPS, lr=method.lr) + CHECK


def on_cpython(model, name):
    code = program(model, micropython.REPO / "models" / f"{model}.mcut", name)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900,
                          env={"PYTHONPATH": str(micropython.device_path())})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()[0]


def on_the_m0(model, name, heap, tmp_path):
    image = deploy.romfs_image([(micropython.REPO / "models" / f"{model}.mcut", "model.mcut")],
                             tmp_path / f"{model}.romfs")
    board = qemu.QemuBoard("qemu-m0-frozen", image, serve=False, heap=heap)
    try:
        return board.exec(program(model, "/rom/model.mcut", name), timeout=1800).decode().split()
    finally:
        board.close()


@pytest.mark.parametrize("model,name", [(model, name) for model in ("tiny", "small") for name in STUDY])
def test_every_method_trains_in_140_kb_to_the_bytes_of_cpython(tmp_path, model, name):
    crc, plan = on_the_m0(model, name, 140 * 1024, tmp_path)
    assert crc == on_cpython(model, name), (model, name, plan)


@pytest.mark.parametrize("name", STUDY)
def test_tiny_trains_in_64_kb_by_every_method(tmp_path, name):
    crc, plan = on_the_m0("tiny", name, 64 * 1024, tmp_path)
    assert crc == on_cpython("tiny", name), (name, plan)
