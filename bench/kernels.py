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
from mcutrain_host import kernel_calls, micropython

HARNESS = micropython.REPO / "native_modules" / "qnn" / "harness"
RNG = np.random.default_rng(0)


def s8(n):
    return bytearray(RNG.integers(-128, 128, n, dtype=np.int8).tobytes())


def s32(n, lo=-1000, hi=1000):
    return array("i", RNG.integers(lo, hi, n).tolist())


def requant(n):
    return [array("i", [1 << 30] * n), array("i", [-8] * n)]


class Spec:
    """A kernel on one shape: its params block, the MACs it does, and its arguments."""

    def __init__(self, op, params, macs, args):
        self.op, self.params, self.macs = op, params, macs
        self.make_args = args

    def call(self):
        return self.op, [*self.make_args(self.params), array("i", self.params)]


SPECS = [
    Spec("fully_connected", [1, 256, 64, 0, 0, -128, 127], 256 * 64,
         lambda p: [s8(p[0] * p[2]), s8(p[0] * p[1]), s8(p[2] * p[1]), s32(p[2]), *requant(p[2])]),
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
        proc = micropython.run_script(script, heap="1M", args=[str(data)])
        if proc.returncode:
            sys.exit(proc.stdout.decode() + proc.stderr.decode())
    return {op: float(us) for op, us in (line.split() for line in proc.stdout.decode().splitlines())}


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
    on_board = board_times(calls)
    print("qnn kernels: MACs per second (M = 10^6) and instructions per MAC")
    print(f"{'kernel':26} {'MACs':>8} {'board µs':>9} {'board MMAC/s':>13} {'NumPy MMAC/s':>13} {'instr/MAC':>10}")
    for spec, (op, args) in zip(SPECS, calls):
        board_us, numpy_us = on_board[op], reference_time(op, args)
        ipm = callgrind_instructions(build / "bench", spec) / spec.macs
        print(f"{op:26} {spec.macs:8d} {board_us:9.1f} {spec.macs / board_us:13.1f} "
              f"{spec.macs / numpy_us:13.1f} {ipm:10.2f}")
    print(f"{'pure MicroPython MAC loop':26} {4096:8d} {on_board['python_loop']:9.1f} "
          f"{4096 / on_board['python_loop']:13.2f}")
    print("board: MicroPython 1.25 unix port (x64), heap 1M; NumPy:", np.__version__,
          "; instructions: callgrind on native_modules/qnn/harness/bench.c, gcc -O2, x64")


if __name__ == "__main__":
    main()
