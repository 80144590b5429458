"""What sgd_update and zo_update share (the C's update.h): the params block
[count, channels, inner, stochastic, seed] and, for sgd_update, optionally first (w is a part of a
larger tensor that starts at its element `first`, and rounds as that element onward would), element i taking
channel (i // inner) % channels's step, and the saturating step of each element."""

import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference import xorshift


class Update:
    """Checks the params block and the tensor, in the C's order."""

    def __init__(self, op, w, params, takes_first=False):
        self.op = op
        p = B.params(op, params, 6 if takes_first and len(B.s32(params, "params")) == 6 else 5)
        self.count, self.channels, self.inner, self.stochastic, self.seed = p[:5]
        self.first = p[5] if len(p) == 6 else 0
        self.w = B.sized(w, "w")
        B.require(op, self.count >= 1 and self.channels >= 1 and self.inner >= 1 and self.stochastic in (0, 1)
                  and xorshift.seed_ok(self.seed) and self.first >= 0 and self.w is not None
                  and self.w.itemsize in (1, 4), "params")
        B.require(op, len(self.w) == self.count, "weight")

    def check_steps(self, step_multiplier, step_shift):
        multiplier, shift = B.s32(step_multiplier, "step_multiplier"), B.s32(step_shift, "step_shift")
        B.require(self.op, len(multiplier) == self.channels and len(shift) == self.channels, "bias")
        B.require(self.op, bool(np.all(multiplier >= 0) and np.all(shift >= 0) and np.all(shift <= 62)), "params")
        self.multiplier, self.shift = multiplier, shift

    def apply(self, d):
        """w -= round(d * multiplier[c] / 2^shift[c]), saturated to [-127, 127] (int8 stays
        symmetric) or int32; d int64 with |d| < 2^31. Stochastic rounding takes one output of
        the seed's stream per element in order (xorshift.round_shift)."""
        channel = (np.arange(self.count) // self.inner) % self.channels
        product = d * self.multiplier.astype(np.int64)[channel]
        step = xorshift.round_shift(product, self.shift.astype(np.int64)[channel], self.stochastic, self.seed,
                                    self.first)
        lo, hi = (-127, 127) if self.w.itemsize == 1 else (-(1 << 31), (1 << 31) - 1)
        self.w[...] = np.clip(self.w.astype(np.int64) - step, lo, hi)
