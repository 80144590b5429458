"""The device package as a board runs it: every module precompiled to .mpy bytecode.

A board that compiles .py source on import needs the compiler's working memory on top of the
bytecode, and the garbage it leaves fragments a small heap (tiny's FQT fits a 160 KB heap from
.mpy, not from source). The NumPy reference stays behind: a board has the qnn natmod.
"""

import os
import subprocess
from pathlib import Path

from mcutrain_host.board import micropython

LEFT_OUT = ("reference",)


def mpy_cross():
    path = micropython.mpy_dir() / "mpy-cross" / "build" / "mpy-cross"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make micropython` (or set MPY_DIR)")
    return path


def sources():
    """(source, path of its .mpy relative to the package root) for every board module."""
    root = micropython.device_path()
    for source in sorted((root / "mcutrain").rglob("*.py")):
        relative = source.relative_to(root)
        if relative.parts[1] not in LEFT_OUT:
            yield source, relative.with_suffix(".mpy")


def compiled(dest=None):
    """The folder holding mcutrain/*.mpy, compiled from the current sources where they changed.

    Each file is compiled to a temporary name and renamed into place, so a board started
    meanwhile never imports half a file.
    """
    dest = Path(dest) if dest else micropython.build_dir() / "device"
    wanted = set()
    for source, relative in sources():
        target = dest / relative
        wanted.add(target)
        if target.exists() and target.stat().st_mtime_ns >= source.stat().st_mtime_ns:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        # -s: the traceback names the module, not the build machine's path.
        proc = subprocess.run([str(mpy_cross()), "-s", str(relative.with_suffix(".py")), "-o", str(partial),
                               str(source)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"mpy-cross failed on {source}:\n{proc.stderr}")
        os.replace(partial, target)
    # A module deleted from the sources must not live on in the build.
    for stale in dest.rglob("*.mpy"):
        if stale not in wanted:
            stale.unlink()
    return dest
