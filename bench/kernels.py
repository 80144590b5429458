"""make bench-kernels: the speed of every qnn kernel, printed, never judged.

For each kernel on a representative MCU-sized shape: MACs per second of the natmod on the
virtual board (x64 unix port), of the NumPy reference on CPython, and instructions per MAC of
the C kernel on the host harness counted by callgrind (-O2, like the natmod). A pure-MicroPython
multiply-accumulate loop on the virtual board is the baseline the natmod replaces.
"""

import re
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

import numpy as np

from mcutrain import reference
from mcutrain_host import kernel_calls
from mcutrain_host.board import micropython, virtual

HARNESS = micropython.REPO / "native_modules" / "qnn" / "harness"
RNG = np.random.default_rng(0)


def s8(n):
    return bytearray(RNG.integers(-128, 128, n, dtype=np.int8).tobytes())


def s32(n, lo=-1000, hi=1000):
    return array("i", RNG.integers(lo, hi, n).tolist())


def requant(n):
    return [array("i", [1 << 30] * n), array("i", [-8] * n)]


def steps(n):
    """Per-channel update steps (multiplier, shift): 2^-8 of the gradient."""
    return [array("i", [1 << 16] * n), array("i", [24] * n)]


class Spec:
    """A kernel on one shape: the params of its harness call_<op> (bench.c), the MACs it does, and
    its board arguments: args(params), then the kernel's params block, the first `block` params
    (all by default). Where the harness params hold scalar arguments or sizes (layouts in
    native_modules/qnn/harness/fuzz_kernels.h), block is shorter, or 0 with args passing the scalars."""

    def __init__(self, op, params, macs, args, block=None, shape=""):
        self.op, self.params, self.macs, self.shape = op, params, macs, shape
        self.make_args = args
        self.block = len(params) if block is None else block

    def call(self):
        block = [array("i", self.params[:self.block])] if self.block else []
        return self.op, [*self.make_args(self.params), *block]

    @property
    def label(self):
        """The op and its shape, e.g. conv2d 14x14x8>16 k3 s1."""
        p = self.params
        if self.op.startswith(("conv2d", "depthwise")):
            return f"{self.op} {p[1]}x{p[2]}x{p[3]}>{p[6]} k{p[7]} s{p[9]}"
        if self.op.startswith(("fully_connected", "fc_")):
            return f"{self.op} {p[1]}>{p[2]}"
        return f"{self.op} {self.shape}".rstrip()


def conv(op, in_hwc, out_hwc, k, stride, pad):
    """A conv2d/depthwise spec, forward or gradient (int8 g); MACs count every tap, padded ones included."""
    (ih, iw, ic), (oh, ow, oc) = in_hwc, out_hwc
    params = [1, ih, iw, ic, oh, ow, oc, k, k, stride, stride, pad, pad, -3, 5, -128, 127]
    depthwise = op.startswith("depthwise")
    weights = (1 if depthwise else oc) * k * k * ic
    macs = oh * ow * oc * k * k * (1 if depthwise else ic)
    if op.endswith("weight_grad"):
        return Spec(op, params[:14], macs, lambda p: [s32(weights), s8(ih * iw * ic), s8(oh * ow * oc)])
    if op.endswith("input_grad"):
        return Spec(op, params[:13], macs, lambda p: [s32(ih * iw * ic), s8(weights), s8(oh * ow * oc)])
    return Spec(op, params, macs, lambda p: [s8(oh * ow * oc), s8(ih * iw * ic), s8(weights), s32(oc), *requant(oc)])


def pool(op, hwc, k, stride):
    h, w, c = hwc
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    return Spec(op, [1, h, w, c, oh, ow, k, k, stride, stride, 0, 0, -128, 127], oh * ow * c * k * k,
                lambda p: [s8(oh * ow * c), s8(h * w * c)])


# Operations per call: multiply-accumulates; for pools and bias_grad, adds and compares, one per
# input read; for the training primitives, one per element (per element and query for zo_update).
SPECS = [
    Spec("fully_connected", [1, 256, 64, 0, 0, -128, 127], 256 * 64,
         lambda p: [s8(p[0] * p[2]), s8(p[0] * p[1]), s8(p[2] * p[1]), s32(p[2]), *requant(p[2])]),
    conv("conv2d", (14, 14, 8), (14, 14, 16), 3, 1, 1),
    conv("conv2d", (28, 28, 1), (14, 14, 8), 3, 2, 1),
    conv("conv2d", (14, 14, 16), (14, 14, 32), 1, 1, 0),
    conv("depthwise_conv2d", (14, 14, 16), (14, 14, 16), 3, 1, 1),
    pool("max_pool", (14, 14, 16), 2, 2),
    pool("avg_pool", (14, 14, 16), 2, 2),
    Spec("global_avg_pool", [1, 7, 7, 32, -128, 127], 7 * 7 * 32, lambda p: [s8(32), s8(7 * 7 * 32)]),
    Spec("add", [3136, -3, 1 << 30, -1, 5, 1 << 30, -1, 20, 0, 1 << 30, -19, -128, 127], 3136,
         lambda p: [s8(3136), s8(3136), s8(3136)]),
    # Backward, int8 g (the loss's output error, or a gradient after quantize_s8).
    Spec("fc_weight_grad", [1, 256, 64, -3], 256 * 64, lambda p: [s32(p[2] * p[1]), s8(p[0] * p[1]), s8(p[0] * p[2])]),
    Spec("fc_input_grad", [1, 256, 64], 256 * 64, lambda p: [s32(p[0] * p[1]), s8(p[2] * p[1]), s8(p[0] * p[2])]),
    conv("conv2d_weight_grad", (14, 14, 8), (14, 14, 16), 3, 1, 1),
    conv("conv2d_input_grad", (14, 14, 8), (14, 14, 16), 3, 1, 1),
    conv("conv2d_weight_grad", (14, 14, 16), (14, 14, 32), 1, 1, 0),
    conv("conv2d_input_grad", (14, 14, 16), (14, 14, 32), 1, 1, 0),
    conv("depthwise_weight_grad", (14, 14, 16), (14, 14, 16), 3, 1, 1),
    conv("depthwise_input_grad", (14, 14, 16), (14, 14, 16), 3, 1, 1),
    Spec("bias_grad", [14 * 14, 16], 14 * 14 * 16, lambda p: [s32(p[1]), s8(p[0] * p[1])], shape="196x16"),
    # Training primitives on int8 weights (4608: a 3x3 conv 32>16) and a 10-class head.
    Spec("perturb", [12345, 1, 1, 4608, 1], 4608, lambda p: [s8(p[3]), bytearray((p[3] + 7) // 8), *p[:3]],
         block=0, shape="int8 4608"),
    Spec("zo_update", [4608, 16, 288, 1, 7, 10, 1], 4608 * 10,
         lambda p: [s8(p[0]), s32(p[5], 0, 1 << 30), s32(p[5], -5000, 5000), *steps(p[1])],
         block=5, shape="int8 4608, 10 queries"),
    Spec("sgd_update", [4608, 16, 288, 1, 7, 1], 4608, lambda p: [s8(p[0]), s32(p[0]), *steps(p[1])],
         block=5, shape="int8 4608"),
    Spec("quantize_s8", [3136, 1, 7], 3136, lambda p: [s8(p[0]), s32(p[0], -10**6, 10**6)], shape="3136"),
    Spec("cross_entropy", [1, 10, -3, 6554], 10, lambda p: [s32(p[0]), s8(p[0] * p[1]), s8(p[0] * p[1]),
                                                            bytearray([3] * p[0])], shape="1x10"),
    Spec("topk", [64, 8], 64, lambda p: [s32(p[1]), s32(p[0])], shape="8 of 64"),
]

BOARD_SCRIPT = kernel_calls.READER + r'''
import sys, time, qnn

def timed(fn, args):
    runs, start = 0, time.ticks_us()
    while True:
        fn(*args)
        runs += 1
        elapsed = time.ticks_diff(time.ticks_us(), start)
        if elapsed > 200000:
            return elapsed / runs

def python_mac_rate(n):
    x, w = bytearray(i & 255 for i in range(n)), bytearray((7 * i) & 255 for i in range(n))
    def loop(x, w):
        acc = 0
        for i in range(len(x)):
            acc += (x[i] - 3) * w[i]
        return acc
    return timed(loop, (x, w))

with open(sys.argv[1], "rb") as f:
    for op, args in read_calls(f):
        print(op, timed(getattr(qnn, op), args))
print("python_loop", python_mac_rate(4096))
'''


def board_times(calls):
    with tempfile.TemporaryDirectory() as tmp:
        data, script = Path(tmp) / "calls.bin", Path(tmp) / "bench.py"
        kernel_calls.write_calls(data, calls)
        script.write_text(BOARD_SCRIPT)
        proc = virtual.run_script(script, heap="1M", args=[str(data)])
        if proc.returncode:
            sys.exit(proc.stdout.decode() + proc.stderr.decode())
    lines = proc.stdout.decode().split()
    return [float(us) for us in lines[1::2]]


def reference_time(op, args):
    fn, runs, start = getattr(reference, op), 0, time.perf_counter()
    while time.perf_counter() - start < 0.2:
        fn(*args)
        runs += 1
    return (time.perf_counter() - start) / runs * 1e6


def callgrind_instructions(bench, spec):
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           f"--toggle-collect=qnn_{spec.op}*", str(bench), spec.op, *map(str, spec.params)],
                          capture_output=True, text=True)
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode or not found:
        sys.exit(f"callgrind failed for {spec.op}:\n{proc.stderr[-2000:]}")
    return int(found.group(1))


def main():
    build = micropython.build_dir() / "harness"
    subprocess.run(["make", "-s", "-C", str(HARNESS), f"BUILD={build}", str(build / "bench")], check=True)
    calls = [spec.call() for spec in SPECS]
    *on_board, python_loop = board_times(calls)
    print("qnn kernels: MACs per second (M = 10^6) and instructions per MAC")
    print(f"{'kernel':40} {'MACs':>8} {'board µs':>9} {'board MMAC/s':>13} {'NumPy MMAC/s':>13} {'instr/MAC':>10}")
    for spec, (op, args), board_us in zip(SPECS, calls, on_board):
        numpy_us = reference_time(op, args)
        ipm = callgrind_instructions(build / "bench", spec) / spec.macs
        print(f"{spec.label:40} {spec.macs:8d} {board_us:9.1f} {spec.macs / board_us:13.1f} "
              f"{spec.macs / numpy_us:13.1f} {ipm:10.2f}")
    print(f"{'pure MicroPython MAC loop':40} {4096:8d} {python_loop:9.1f} {4096 / python_loop:13.2f}")
    print("board: MicroPython 1.25 unix port (x64), heap 1M; NumPy:", np.__version__,
          "; instructions: callgrind on native_modules/qnn/harness/bench.c, gcc -O2, x64")


if __name__ == "__main__":
    main()
