"""What a native .mpy is built for, and what a board can load.

An .mpy starts with b"M", the format version (6), then a byte holding the native arch
(bits 2..7) and the sub-version (bits 0..1). A board reports the same through
sys.implementation._mpy: arch = _mpy >> 10, sub-version = (_mpy >> 8) & 3, version = _mpy & 0xff.
"""

from mcutrain_host.board import micropython

# MicroPython's MP_NATIVE_ARCH_* numbering (py/persistentcode.h).
ARCH_CODES = {"x86": 1, "x64": 2, "armv6": 3, "armv6m": 4, "armv7m": 5, "armv7em": 6,
              "armv7emsp": 7, "armv7emdp": 8, "xtensa": 9, "xtensawin": 10, "rv32imc": 11}
ARCH_NAMES = {code: name for name, code in ARCH_CODES.items()}
SHIPPED_ARCHS = ("x64", "armv6m", "armv7m", "armv7emsp", "armv7emdp")
MPY_VERSION, MPY_SUB_VERSION = 6, 3


def read_header(path):
    """(version, sub_version, arch name) of a native .mpy file."""
    with open(path, "rb") as f:
        head = f.read(4)
    if len(head) < 4 or head[0:1] != b"M":
        raise ValueError(f"{path}: not an .mpy file")
    arch = ARCH_NAMES.get(head[2] >> 2)
    if arch is None:
        raise ValueError(f"{path}: not a native .mpy (no architecture in its header)")
    return head[1], head[2] & 3, arch


def board_target(mpy_word):
    """(version, sub_version, arch name or None) from a board's sys.implementation._mpy."""
    return mpy_word & 0xFF, (mpy_word >> 8) & 3, ARCH_NAMES.get(mpy_word >> 10)


def loadable_arches(arch):
    """Natmod arches a board of `arch` can load: Thumb loaders accept any older Thumb arch."""
    thumb = ["armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp"]
    if arch in thumb:
        return thumb[: thumb.index(arch) + 1][::-1]
    return [arch]


def natmod_for(module, arch):
    """The best built natmod of `module` for a board of `arch`, or None."""
    for candidate in loadable_arches(arch):
        path = micropython.natmod_dir(candidate) / f"{module}.mpy"
        if path.exists():
            return path
    return None
