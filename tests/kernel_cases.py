"""Seeded random kernel arguments with the edges that break kernels: odd sizes, zero points at
-128 and 127, saturating values, extreme requantization, and broken variants of valid calls."""

from array import array

import numpy as np


class CaseMaker:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def dim(self, lo, hi):
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]

    def zero_point(self):
        return self.choice([-128, 127, 0, int(self.rng.integers(-128, 128))])

    def act_range(self):
        lo, hi = sorted(int(v) for v in self.rng.integers(-128, 128, 2))
        return self.choice([(-128, 127), (lo, hi), (0, 127), (-128, -128)])

    def s8(self, n, saturate=False):
        if saturate or self.rng.random() < 0.15:
            return bytearray(self.rng.choice(np.array([-128, 127, -127], np.int8), n).tobytes())
        return bytearray(self.rng.integers(-128, 128, n, dtype=np.int8).tobytes())

    def s32(self, n, lo=-(1 << 31), hi=(1 << 31) - 1):
        return array("i", self.rng.integers(lo, hi, n, endpoint=True, dtype=np.int64).tolist())

    def bias(self, n):
        return self.choice([lambda: self.s32(n, -5000, 5000), lambda: self.s32(n)])()

    def requant(self, n):
        """Per-channel (multiplier, shift) arrays, mostly realistic, sometimes extreme."""
        multiplier = self.rng.integers(1 << 30, (1 << 31) - 1, n, endpoint=True)
        shift = self.rng.integers(-12, 1, n)
        if self.rng.random() < 0.2:
            multiplier = self.rng.choice(np.array([0, 1, (1 << 31) - 1, 1 << 30]), n)
            shift = self.rng.choice(np.array([-31, 30, 0, -1, 1]), n)
        return array("i", multiplier.tolist()), array("i", shift.tolist())

    def params(self, *values):
        return array("i", values)

    def break_case(self, case):
        """One valid case with one argument broken: a wrong length, a bad parameter, a misaligned
        int32 buffer, or a params block of the wrong size."""
        op, args = case
        args = list(args)
        i = int(self.rng.integers(len(args)))
        a = args[i]
        kind = self.choice(["shorter", "longer", "param", "params_len", "misaligned"])
        if isinstance(a, bytearray):
            args[i] = a[:-1] if kind == "shorter" and len(a) else a + b"\x00"
        elif isinstance(a, array) and i == len(args) - 1 and kind in ("param", "params_len"):
            if kind == "params_len":
                args[i] = array("i", list(a) + [0]) if self.rng.random() < 0.5 else array("i", list(a)[:-1])
            else:
                p = list(a)
                p[int(self.rng.integers(len(p)))] = self.choice([-1, 0, 128, -129, 1 << 30, -(1 << 31)])
                args[i] = array("i", p)
        elif isinstance(a, array):
            if kind == "misaligned":
                args[i] = bytearray(a.tobytes() + b"\x00")
            elif kind == "shorter" and len(a):
                args[i] = array(a.typecode, list(a)[:-1])
            else:
                args[i] = array(a.typecode, list(a) + [0])
        return op, args
