"""`mcutrain demo` (what `make demo` runs) completes on the virtual board over the link, reports
accuracy before and after adaptation, and leaves metrics and a plot; a smaller run keeps the test
short."""

import json
import re
import subprocess
import sys

from PIL import Image


def test_demo_adapts_on_the_virtual_board_over_the_link(tmp_path):
    """Also types a setting on stdin, as a user would while it runs."""
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "mcutrain_host.cli", "demo", "--samples", "200", "--test", "200",
                           "--epochs", "1", "--out", str(out)], capture_output=True, text=True, timeout=600,
                          input="lr=0.0005\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before = re.search(r"accuracy before adaptation: ([\d.]+)%", proc.stdout)
    after = re.search(r"accuracy after adaptation:  ([\d.]+)%", proc.stdout)
    assert before and after, proc.stdout
    assert "samples applied: 200 in 200 steps" in proc.stdout
    assert re.search(r"^link: \d+ frames, \d+ retransmitted, \d+ damaged frames received$", proc.stdout, re.M)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert sum(r["event"] == "step" for r in records) == 200
    assert records[-1]["event"] == "end" and records[-1]["checksum"] == records[-1]["expected_checksum"]
    assert (out / "metrics.csv").read_text().startswith("event,t,samples")
    typed = [r for r in records if r["event"] == "set"]
    assert typed and typed[0]["key"] == "lr" and typed[0]["value"] == 0.0005 and "error" not in typed[0]
    assert "lr=0.0005: applied at the next step" in proc.stderr
    assert Image.open(out / "curves.png").size[0] > 300
