"""Checkpoints of a trainer's state: trainable tensors, optimizer state, counters.

Two slots, <path>.0 and <path>.1. A save writes <path>.tmp and renames it over the older slot,
so a reset mid-save leaves the newer slot intact; a load takes the newest slot whose CRC and
layout check out, so a damaged checkpoint falls back to the previous one.

File: b"MCTC", u16 version, u16 tensor count, u32 step, u16 counter count, u16 0,
counters (i32 each), per tensor u32 byte length then its bytes, u32 CRC-32 of all before it.
"""

import os
import struct
from array import array

from mcutrain.backend import kernels

MAGIC = b"MCTC"
VERSION = 1
_HEADER = "<4sHHIHH"


class CheckpointError(ValueError):
    pass


class Checkpoints:
    def __init__(self, path, tensors):
        """tensors: bytearrays (int8) and array("i") (int32), saved and restored in place, in order."""
        self.path = path
        self.tensors = tensors
        self._crc = array("i", [0])
        self._chunk = bytearray(256)

    def _slot(self, i):
        return "%s.%d" % (self.path, i)

    def save(self, step, counters=()):
        header = struct.pack(_HEADER, MAGIC, VERSION, len(self.tensors), step, len(counters), 0)
        self._crc[0] = 0
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            self._write(f, header)
            for c in counters:
                self._write(f, struct.pack("<i", c))
            for t in self.tensors:
                self._write(f, struct.pack("<I", _nbytes(t)))
                self._write(f, t)
            f.write(struct.pack("<i", self._crc[0]))
        newest = self._newest()
        target = self._slot(1 - newest[0] if newest else 0)
        try:
            os.rename(tmp, target)
        except OSError:
            # FAT cannot rename over a file; the other slot still holds the previous checkpoint.
            os.remove(target)
            os.rename(tmp, target)

    def load(self):
        """Restores the newest valid checkpoint into the tensors; returns (step, counters) or None."""
        newest = self._newest()
        if newest is None:
            return None
        slot, step, counters = newest
        with open(self._slot(slot), "rb") as f:
            f.read(struct.calcsize(_HEADER) + 4 * len(counters))
            for t in self.tensors:
                f.read(4)
                if f.readinto(t) != _nbytes(t):
                    raise CheckpointError("checkpoint changed while loading")
        return step, counters

    def _write(self, f, data):
        kernels.crc32(self._crc, data)
        f.write(data)

    def _newest(self):
        best = None
        for slot in (0, 1):
            found = self._check(self._slot(slot))
            if found is not None and (best is None or found[0] > best[1]):
                best = (slot, found[0], found[1])
        return best

    def _check(self, path):
        """(step, counters) if the file is a complete, undamaged checkpoint of these tensors."""
        try:
            f = open(path, "rb")
        except OSError:
            return None
        with f:
            self._crc[0] = 0
            header = self._read(f, struct.calcsize(_HEADER))
            if header is None:
                return None
            magic, version, count, step, n_counters, _ = struct.unpack(_HEADER, header)
            if magic != MAGIC or version != VERSION or count != len(self.tensors) or n_counters > 64:
                return None
            raw = self._read(f, 4 * n_counters)
            if raw is None:
                return None
            counters = struct.unpack("<%di" % n_counters, raw)
            for t in self.tensors:
                length = self._read(f, 4)
                if length is None or struct.unpack("<I", length)[0] != _nbytes(t):
                    return None
                if not self._skip(f, _nbytes(t)):
                    return None
            expected = self._crc[0]
            stored = f.read(4)
            if len(stored) != 4 or struct.unpack("<i", stored)[0] != expected or f.read(1):
                return None
            return step, counters

    def _read(self, f, n):
        data = f.read(n)
        if len(data) != n:
            return None
        kernels.crc32(self._crc, data)
        return data

    def _skip(self, f, n):
        """CRC over n bytes of f through the fixed chunk buffer; False if the file ends first."""
        chunk = memoryview(self._chunk)
        while n:
            got = f.readinto(chunk[: min(n, len(chunk))])
            if not got:
                return False
            kernels.crc32(self._crc, chunk[:got])
            n -= got
        return True


def remove(path):
    """Deletes both slots of the checkpoint at path, and a temporary file a reset left behind."""
    for name in ("%s.0" % path, "%s.1" % path, path + ".tmp"):
        try:
            os.remove(name)
        except OSError:
            pass


def _nbytes(t):
    # MicroPython's arrays tell neither their typecode nor their item size, so trainer state is
    # int8 in bytearrays and int32 in array("i"), nothing else.
    return len(t) if isinstance(t, bytearray) else 4 * len(t)
