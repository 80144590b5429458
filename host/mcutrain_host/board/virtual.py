"""The virtual board: MicroPython's unix port started with a limited GC heap, with the device
package (compiled to .mpy, as on a board) and the x64 natmods on its path (MICROPYPATH)."""

import os
import subprocess

from mcutrain_host.board import micropython, package


def board_env(arch="x64"):
    """The virtual board's environment: the device package precompiled to .mpy, as on a board."""
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([".frozen", str(package.compiled()), str(micropython.natmod_dir(arch))])
    return env


def run_script(path, heap="192K", timeout=600, args=(), stdin=None):
    """Run a MicroPython script on the virtual board; returns the CompletedProcess (bytes)."""
    binary = micropython.unix_binary()
    if not binary.exists():
        raise FileNotFoundError(f"{binary} is missing: run `make micropython` (or set MPY_DIR)")
    return subprocess.run([str(binary), "-X", f"heapsize={heap}", str(path), *args],
                          env=board_env(), input=stdin, capture_output=True, timeout=timeout)
