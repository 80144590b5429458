"""Where the pinned MicroPython and our built natmods are, and how to run the virtual board.

The virtual board is MicroPython's unix port started with a limited GC heap, with the device
package and the x64 natmods on its path (MICROPYPATH).
"""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERSION = "1.25.0"
MPY_ABI = "6.3"


def mpy_dir():
    return Path(os.environ.get("MPY_DIR") or REPO / ".cache" / f"micropython-{VERSION}")


def unix_binary():
    return mpy_dir() / "ports" / "unix" / "build-standard" / "micropython"


def build_dir():
    return Path(os.environ.get("MCUTRAIN_BUILD") or REPO / "build")


def natmod_dir(arch):
    return build_dir() / "natmod" / f"{arch}_{MPY_ABI}"


def device_path():
    return REPO / "device"


def board_env(arch="x64"):
    """The virtual board's environment: the device package precompiled to .mpy, as on a board."""
    from mcutrain_host import package

    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([".frozen", str(package.compiled()), str(natmod_dir(arch))])
    return env


def run_script(path, heap="192K", timeout=600, args=(), stdin=None):
    """Run a MicroPython script on the virtual board; returns the CompletedProcess (bytes)."""
    binary = unix_binary()
    if not binary.exists():
        raise FileNotFoundError(f"{binary} is missing: run `make micropython` (or set MPY_DIR)")
    return subprocess.run([str(binary), "-X", f"heapsize={heap}", str(path), *args],
                          env=board_env(), input=stdin, capture_output=True, timeout=timeout)
