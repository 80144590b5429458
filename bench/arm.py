"""make bench-arm: instructions per kernel call, per MAC and per training step on the emulated
Cortex-M boards (qemu-m0 armv6m, qemu-m3 armv7m, qemu-m4 armv7emsp), printed, never judged.
How instructions are counted: mcutrain_host/instructions.py.

A kernel's instructions per MAC are (call - overhead) / (MACs - 1), the overhead being the same
kernel, through the same Python call, on a 1-MAC shape: argument passing, buffer and parameter
checks and one output. For add, a "MAC" is an element; for max_pool, an input read (a 2x2 window
reads four an output). The "scratch" rows give conv2d a scratch for all its weights widened
(qnn.h), which the Cortex-M0 and M4 widen and the M3 ignores, and add one for its tables, which
every core builds (their 512 requantizations count as overhead).
MACs are the taps that read inside the input (padded taps cost nothing); for the training step,
the whole step as the device package runs it (mcutrain.bench's settings: ZO mode mix with 10
queries on every weighted layer, FQT on the last two; the second step), the model and trainer
taking the kernels' scratch as they do on any board.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from kernels import Spec, conv, pool, requant, s8, s32
from mcutrain_host import instructions, kernel_calls
from mcutrain_host.board import deploy, qemu

MODELS = Path(__file__).resolve().parents[1] / "models"
TINY, SMALL = MODELS / "tiny.mcut", MODELS / "small.mcut"
BOARDS = instructions.PER_TICK


def fully_connected(op, in_n, out_n):
    if op == "fully_connected":
        return Spec(op, [1, in_n, out_n, -3, 5, -128, 127], in_n * out_n,
                    lambda p: [s8(p[2]), s8(p[1]), s8(p[2] * p[1]), s32(p[2]), *requant(p[2])])
    if op == "fc_weight_grad":
        return Spec(op, [1, in_n, out_n, -3], in_n * out_n, lambda p: [s32(p[2] * p[1]), s8(p[1]), s8(p[2])])
    return Spec(op, [1, in_n, out_n], in_n * out_n, lambda p: [s32(p[1]), s8(p[2] * p[1]), s8(p[2])])


def add(count):
    return Spec("add", [count, -3, 1 << 30, -1, 5, 1 << 30, -1, 20, 0, 1 << 30, -19, -128, 127], count,
                lambda p: [s8(p[0]), s8(p[0]), s8(p[0])], shape=str(count))


def max_pool(h, w, c):
    """A 2x2 stride-2 max pool, the models' (a "MAC" is an input read)."""
    spec = pool("max_pool", (h, w, c), 2, 2)
    spec.shape = f"{h}x{w}x{c} k2 s2"
    return spec


def taps(out_n, stride, pad, k, size):
    """Taps along one axis, summed over the outputs, that read inside the input."""
    return sum(max(0, min(k, size - (o * stride - pad)) - max(0, pad - o * stride)) for o in range(out_n))


def macs(spec):
    if not spec.op.startswith(("conv2d", "depthwise")):
        return spec.macs
    batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, pad_top, pad_left = spec.params[:13]
    per_channel = 1 if spec.op.startswith("depthwise") else in_c
    return batch * taps(out_h, s_h, pad_top, k_h, in_h) * taps(out_w, s_w, pad_left, k_w, in_w) * out_c * per_channel


def pair(op, in_hwc, out_hwc, k, stride, pad):
    """A conv2d/depthwise spec and its 1-MAC twin: a 1x1 image through the same kernel size and padding."""
    return conv(op, in_hwc, out_hwc, k, stride, pad), conv(op, (1, 1, 1), (1, 1, 1), k, 1, pad)


PAIRS = [
    pair("conv2d", (14, 14, 8), (14, 14, 16), 3, 1, 1),
    pair("conv2d", (28, 28, 1), (14, 14, 8), 3, 2, 1),
    pair("conv2d", (14, 14, 16), (14, 14, 32), 1, 1, 0),
    pair("depthwise_conv2d", (14, 14, 16), (14, 14, 16), 3, 1, 1),
    (fully_connected("fully_connected", 256, 64), fully_connected("fully_connected", 1, 1)),
    (fully_connected("fc_weight_grad", 256, 64), fully_connected("fc_weight_grad", 1, 1)),
    (fully_connected("fc_input_grad", 256, 64), fully_connected("fc_input_grad", 1, 1)),
    pair("conv2d_weight_grad", (14, 14, 8), (14, 14, 16), 3, 1, 1),
    pair("conv2d_input_grad", (14, 14, 8), (14, 14, 16), 3, 1, 1),
    pair("depthwise_weight_grad", (14, 14, 16), (14, 14, 16), 3, 1, 1),
    pair("depthwise_input_grad", (14, 14, 16), (14, 14, 16), 3, 1, 1),
    (max_pool(28, 28, 8), max_pool(2, 2, 1)),
    (add(14 * 14 * 16), add(1)),
]

BOARD_SCRIPT = kernel_calls.READER + instructions.SYSTICK + r'''
import qnn

with open("/rom/calls.bin", "rb") as f:
    for op, args in read_calls(f):
        print("call", ticks(getattr(qnn, op), *args))
        args = None

from mcutrain import model
m = model.load("/rom/model.mcut")
m.plan(batch=1)
x, y = bytes((i * 37) & 0xFF for i in range(m.input_size)), bytes([3])
m.infer(x)
print("infer", ticks(m.infer, x))
'''
# mcutrain.bench's methods, each timed on a fresh board by mcutrain_host.instructions; ZO also
# without the kernels' scratch (docs/memory.md), and small's ZO-WP step, the slowest of the study.
STEPS = [("step zo-mix", {"method": "zo", "mode": "mix"}), ("step fqt", {"method": "fqt", "mode": "mix"})]
NO_SCRATCH = STEPS[:1]
SMALL_STEPS = [("step zo-wp", {"method": "zo", "mode": "wp"})]


def counted(steps, suffix=""):
    """{name: instructions}, marked where the trainer took the lean plan (the fast one did not fit
    the heap as this board's layout left it), or the error's name."""
    return {name + suffix: (f"{step['instructions']}{' (lean)' if step['plan'] == 'lean' else ''}"
                            if isinstance(step, dict) else step) for name, step in steps.items()}


# conv2d with a scratch that holds all its weights widened, and add with one for its tables.
WITH_SCRATCH = PAIRS[:3] + PAIRS[-1:]


def with_scratch(call):
    op, args = call
    return op, [*args, bytearray(4 + (4096 if op == "add" else 4 * len(args[2])))]


def run(board, calls, workdir):
    """On `board`: SysTick readings of the kernel calls, in order, and {name: instructions} of
    tiny's inference and training steps, and of small's."""
    data = Path(workdir) / "calls.bin"
    kernel_calls.write_calls(data, calls)
    tree = deploy.files(qemu.BOARDS[board].arch, TINY) + [(data, "calls.bin")]
    image = deploy.romfs_image(tree, Path(workdir) / f"{board}.romfs")
    q = qemu.QemuBoard(board, image, serve=False, icount=True)
    try:
        lines = q.exec(BOARD_SCRIPT, timeout=600).decode().splitlines()
    finally:
        q.close()
    kernel = [int(line.split()[1]) for line in lines if line.startswith("call ")]
    model = {"infer": round(int(line.split()[1]) * BOARDS[board]) for line in lines if line.startswith("infer ")}
    tiny = {**model, **counted(instructions.training_steps(board, TINY, STEPS)),
            **counted(instructions.training_steps(board, TINY, NO_SCRATCH, scratch=False), ", no scratch")}
    small = {**counted(instructions.training_steps(board, SMALL, SMALL_STEPS)),
             **counted(instructions.training_steps(board, SMALL, SMALL_STEPS, scratch=False), ", no scratch")}
    return kernel, tiny, small


def main():
    calls = [spec.call() for pair in PAIRS for spec in pair] + [with_scratch(spec.call()) for pair in WITH_SCRATCH
                                                                 for spec in pair]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for board in BOARDS:
            results[board] = run(board, calls, tmp)
    print("qnn kernels on the emulated Cortex-M boards (QEMU -icount shift=0, SysTick): instructions per call,")
    print("its overhead (the same kernel on a 1-MAC shape) and instructions per MAC with the overhead subtracted")
    header = "".join(f" {board + ' call':>14} {'overhead':>8} {'/MAC':>6}" for board in BOARDS)
    print(f"{'kernel':40} {'MACs':>7}{header}")
    for i, (spec, one) in enumerate(PAIRS + WITH_SCRATCH):
        n, n_one = macs(spec), macs(one)
        row = ""
        for board, ratio in BOARDS.items():
            call, overhead = results[board][0][2 * i] * ratio, results[board][0][2 * i + 1] * ratio
            row += f" {call:14.0f} {overhead:8.0f} {(call - overhead) / (n - n_one):6.2f}"
        label = spec.label + (", scratch" if i >= len(PAIRS) else "")
        print(f"{label:40} {n:7d}{row}")
    print()
    for i, name in ((1, "tiny"), (2, "small")):
        print(f"{name} (models/{name}.mcut), batch 1: instructions {''.join(f' {b:>17}' for b in BOARDS)}")
        for row in results["qemu-m0"][i]:
            print(f"{row:49}{''.join(f' {results[b][i][row]:>17}' for b in BOARDS)}")
    version = subprocess.run([qemu.QEMU, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"natmods: armv6m on qemu-m0, armv7m on qemu-m3, armv7emsp on qemu-m4; MicroPython 1.25 qemu port; {version}")


if __name__ == "__main__":
    sys.exit(main())
