"""The kernels' C, built for the host under AddressSanitizer and UndefinedBehaviorSanitizer,
survives random shapes, parameters and buffer lengths: invalid calls come back as errors, and
no call reads or writes outside its buffers (a sanitizer report aborts the harness)."""

import re
import subprocess

from mcutrain_host.board import micropython

HARNESS = micropython.REPO / "native_modules" / "qnn" / "harness"
CALLS = 600_000


def test_fuzz_every_kernel_under_sanitizers(tmp_path):
    subprocess.run(["make", "-s", "-C", str(HARNESS), f"BUILD={tmp_path}"], check=True)
    proc = subprocess.run([str(tmp_path / "fuzz"), str(CALLS), "7"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert f"{CALLS} calls, no sanitizer report" in proc.stdout
    # Every kernel must see both valid and rejected calls, or the fuzzing proves little.
    for name, ok, rejected in re.findall(r"^(\w+)\s+(\d+) ok\s+(\d+) rejected$", proc.stdout, re.M):
        assert int(ok) > 0 and int(rejected) > 0, f"{name}: {ok} ok, {rejected} rejected"
