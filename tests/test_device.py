"""Runs every MicroPython test script in tests/device/ on the virtual board.

A device test is a plain MicroPython script: it passes when it exits normally; an uncaught
exception fails it and the device's traceback is the failure message. A script may set its heap
with a first line `# heap: 128K`.
"""

from pathlib import Path

import pytest

DEVICE_TESTS = sorted((Path(__file__).parent / "device").glob("*.py"))


def heap_of(path):
    first = (path.read_text().splitlines() or [""])[0]
    return first.split(":", 1)[1].strip() if first.startswith("# heap:") else "192K"


@pytest.mark.parametrize("script", DEVICE_TESTS, ids=[p.stem for p in DEVICE_TESTS])
def test_device_script(board, script):
    board.run_file(script, heap=heap_of(script))
