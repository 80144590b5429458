"""`mcutrain demo` (what `make demo` runs) completes on the virtual board and reports accuracy
before and after adaptation; a smaller run keeps the test short."""

import re
import subprocess
import sys

from mcutrain_host import micropython


def test_demo_adapts_on_the_virtual_board():
    proc = subprocess.run([sys.executable, "-m", "mcutrain_host.cli", "demo", "--samples", "200", "--test", "200",
                           "--epochs", "1"], capture_output=True, text=True, timeout=600,
                          env=micropython.board_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before = re.search(r"accuracy before adaptation: ([\d.]+)%", proc.stdout)
    after = re.search(r"accuracy after adaptation:  ([\d.]+)%", proc.stdout)
    assert before and after, proc.stdout
    assert "board memory:" in proc.stdout
