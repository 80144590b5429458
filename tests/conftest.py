import textwrap

import pytest

from mcutrain_host.board import virtual

# tests/device/ holds MicroPython scripts, run on the virtual board by test_device.py.
collect_ignore_glob = ["device/*"]


class DeviceError(AssertionError):
    pass


class Board:
    """Runs MicroPython code on the virtual board with a chosen GC heap."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.count = 0

    def run_file(self, path, heap="192K", args=()):
        proc = virtual.run_script(path, heap=heap, args=[str(a) for a in args])
        out = proc.stdout.decode(errors="replace")
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace")
            raise DeviceError(f"MicroPython exited with {proc.returncode} (heap {heap}); device output:\n{out}{err}")
        return out

    def run(self, code, heap="192K", args=()):
        self.count += 1
        path = self.tmp_path / f"board_{self.count}.py"
        path.write_text(textwrap.dedent(code))
        return self.run_file(path, heap=heap, args=args)


@pytest.fixture
def board(tmp_path):
    return Board(tmp_path)
