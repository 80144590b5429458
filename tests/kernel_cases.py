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

    def seed(self):
        """A random-stream seed in [0, 2^30), sometimes at either end."""
        return self.choice([0, (1 << 30) - 1, self.dim(0, (1 << 30) - 1), self.dim(0, (1 << 30) - 1)])

    def s8_or_s32(self, n):
        """An int8 (bytearray) or int32 tensor, sometimes at and next to the type's ends."""
        if self.rng.random() < 0.5:
            return self.s8(n)
        if self.rng.random() < 0.3:
            return array("i", self.rng.choice(np.array([-(1 << 31), (1 << 31) - 1, -(1 << 31) + 1, (1 << 31) - 2]),
                                              n).tolist())
        return self.s32(n)

    def window_axis(self, pool=False):
        """(size, k, stride, pad, out_size) of one sliding-window axis: 1x1 and larger kernels
        (some larger than the input), strides 1 to 3, padding. A conv's out_size may run past the
        natural one (implicit bottom/right padding) and its pad may exceed k (windows wholly in
        padding); a pool keeps at least one input in every window."""
        size, k, stride = self.dim(1, 9), self.choice([1, 1, 2, 3, 3, 5]), self.choice([1, 1, 2, 2, 3])
        pad = self.dim(0, k - 1) if pool or self.rng.random() < 0.85 else self.dim(k, k + 2)
        natural = max(1, (size + 2 * pad - k) // stride + 1)
        if pool:
            most = (size - 1 + pad) // stride + 1
            return size, k, stride, pad, self.choice([min(natural, most), self.dim(1, most)])
        return size, k, stride, pad, self.choice([natural, natural, self.dim(1, natural + 2)])

    def with_each_param(self, case, values=(-(1 << 31), -129, -1, 0, 128, 1 << 30)):
        """Copies of a valid case with one params entry replaced, for every entry and value: each
        parameter check on its own (values that stay valid must then agree too)."""
        op, args = case
        variants = []
        for i in range(len(args[-1])):
            for v in values:
                p = list(args[-1])
                p[i] = v
                variants.append((op, list(args[:-1]) + [array("i", p)]))
        return variants

    def with_huge_windows(self, make_case, ops):
        """Cases of conv-geometry ops (params 9..12: strides and paddings) with one of them near
        2^30 or at 2^31 - 1, which puts window origins far outside int32: the windows are empty."""
        cases = []
        for op in ops:
            for i in (9, 10, 11, 12):
                for big in (1 << 30, (1 << 31) - 1):
                    op_, args = make_case(self, op)
                    p = list(args[-1])
                    p[i] = big
                    cases.append((op_, args[:-1] + [array("i", p)]))
        return cases

    def grad(self, n, size=None):
        """A gradient of n elements, int8 (bytearray, 'b' or 'B'), int16 ('h' or 'H') or int32 ('i' or
        'I'): unsigned typecodes carry the same bits. Often at or near the type's ends, so that int32
        sums saturate; otherwise small, like real gradients, or anywhere in the type."""
        size = size or self.choice([1, 2, 4])
        dtype = {1: np.int8, 2: np.int16, 4: np.int32}[size]
        lo, hi = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
        kind = self.choice(["ends", "small", "any"])
        if kind == "ends":
            values = self.rng.choice(np.array([lo, lo + 1, hi - 1, hi, 0]), n)
        elif kind == "small":
            values = self.rng.integers(-100, 101, n)
        else:
            values = self.rng.integers(lo, hi, n, endpoint=True)
        data = values.astype(dtype).tobytes()
        typecode = self.choice({1: ["y", "b", "B"], 2: ["h", "H"], 4: ["i", "I"]}[size])
        if typecode == "y":
            return bytearray(data)
        g = array(typecode)
        g.frombytes(data)
        return g

    def accumulator(self, n):
        """An int32 gradient accumulator: fresh (zeros), small, anywhere, or at the ends."""
        kind = self.choice(["zeros", "small", "any", "ends"])
        if kind == "zeros":
            return array("i", bytes(4 * n))
        if kind == "ends":
            return array("i", self.rng.choice(np.array([-(1 << 31), -(1 << 31) + 1, (1 << 31) - 2, (1 << 31) - 1]),
                                              n).tolist())
        return self.s32(n, -5000, 5000) if kind == "small" else self.s32(n)

    def with_scratch(self, case):
        """A conv2d or fully_connected case with a scratch (qnn.h), as often none, one too short
        for four channels' widened weights, one with room for some of them, or for all."""
        op, args = case
        weights, channels = len(args[2]), len(args[3])
        group = 16 * (weights // channels)  # four channels' weights, widened to 4 bytes
        kind = self.choice(["none", "short", "some", "all"])
        size = {"none": 0, "short": int(self.rng.integers(0, group)),
                "some": int(self.rng.integers(group, max(group, 4 * weights) + 1)),
                "all": 4 * weights + int(self.rng.integers(0, 8))}[kind]
        return op, [*args, bytearray(size)]

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
