"""Runs every MicroPython test script in tests/device/ on the virtual board, and again on
CPython with the NumPy reference backend: the device package is the same text on both.

A device test is a plain script: it passes when it exits normally; an uncaught exception fails
it and the traceback is the failure message. Header comments: `# heap: 128K` sets the board's
heap; `# board only` skips the CPython run (for scripts about the natmod itself).
"""

import subprocess
import sys
from pathlib import Path

import pytest

from mcutrain_host.board import micropython

DEVICE_TESTS = sorted((Path(__file__).parent / "device").glob("*.py"))


def header(path):
    lines = path.read_text().splitlines()
    return [line[1:].strip() for line in lines[:3] if line.startswith("#")]


def heap_of(path):
    for line in header(path):
        if line.startswith("heap:"):
            return line.split(":", 1)[1].strip()
    return "192K"


@pytest.mark.parametrize("script", DEVICE_TESTS, ids=[p.stem for p in DEVICE_TESTS])
def test_on_the_board(board, script):
    board.run_file(script, heap=heap_of(script))


CPYTHON_TESTS = [p for p in DEVICE_TESTS if "board only" not in header(p)]


@pytest.mark.parametrize("script", CPYTHON_TESTS, ids=[p.stem for p in CPYTHON_TESTS])
def test_on_cpython(script):
    env = {"PYTHONPATH": str(micropython.device_path())}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
