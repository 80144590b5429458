"""Rademacher perturbation from a seed (the queries of zeroth-order gradient estimates) and its
exact undo. u is the xorshift32 Rademacher vector of the seed
(mcutrain.reference.xorshift), regenerated on every call and never stored."""

import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference import xorshift

INT32_MAX = (1 << 31) - 1


def _perturbation(op, t, mask, seed, sigma, sign):
    """Checks what perturb and unperturb share; returns t, the mask bytes, and sign*sigma*u."""
    B.require(op, B.int32_range(seed, sigma, sign), "params")
    t = B.sized(t, "t")
    B.require(op, t is not None and t.itemsize in (1, 4) and xorshift.seed_ok(seed) and sigma >= 1
              and (sigma <= 127 or t.itemsize == 4) and sign in (1, -1), "params")
    B.require(op, len(t) <= INT32_MAX, "input")
    mask = B.view(mask, np.uint8, "mask")
    B.require(op, len(mask) >= (len(t) + 7) // 8, "aux")
    return t, mask, sign * sigma * xorshift.rademacher(seed, len(t))


def perturb(t, mask, seed, sigma, sign):
    """In place: t[i] += sign*sigma*u[i] where that stays in the type's range; elsewhere t[i] is
    left alone and mask bit i is set (byte i >> 3, bit i & 7, LSB first). The other bits of the
    first ceil(n/8) mask bytes are cleared, bits past n kept. t is int8 (sigma <= 127) or int32.
    Returns the number of elements left alone."""
    t, mask, delta = _perturbation("perturb", t, mask, seed, sigma, sign)
    n = len(t)
    info = np.iinfo(t.dtype)
    moved = t.astype(np.int64) + delta
    alone = (moved < info.min) | (moved > info.max)
    t[...] = np.where(alone, t, moved).astype(t.dtype)
    bits = np.packbits(alone, bitorder="little")
    ours = np.full(len(bits), 0xFF, dtype=np.uint8)
    if n % 8:
        ours[-1] = (1 << (n % 8)) - 1
    mask[:len(bits)] = (mask[:len(bits)] & ~ours) | bits
    return int(alone.sum())


def unperturb(t, mask, seed, sigma, sign):
    """In place: t[i] -= sign*sigma*u[i] where mask bit i is clear, which restores the bytes
    perturb(t, mask, seed, sigma, sign) changed. Wraps like the type (only if t changed since)."""
    t, mask, delta = _perturbation("unperturb", t, mask, seed, sigma, sign)
    moved = np.unpackbits(mask, bitorder="little", count=len(t)) == 0
    t[...] = (t.astype(np.int64) - np.where(moved, delta, 0)).astype(t.dtype)
    return 0
