"""Where the pinned MicroPython, its tools and our builds are."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
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
