"""Requantization of int32 accumulators: TFLite's MultiplyByQuantizedMultiplier.

y = rounding_divide_by_pot(srdhm(acc << left, multiplier), right) with
left = max(shift, 0), right = max(-shift, 0); the left shift saturates to int32;
srdhm is the saturating rounding doubling high multiply (round half away from zero
of acc * multiplier / 2^31); the right shift rounds half away from zero.
"""

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def requantize(acc, multiplier, shift):
    """Elementwise over broadcast int arrays; returns int64 values in int32 range."""
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    a = np.empty(np.broadcast_shapes(np.shape(acc), multiplier.shape, shift.shape), np.int64)
    a[...] = acc
    return requantize_in_place(a, multiplier, shift)


def requantize_in_place(a, multiplier, shift):
    """requantize into a, an int64 array of the broadcast shape (returned). In place, one pass
    per operation: requantization is most of the time a forward pass takes on the host."""
    if np.any(shift > 0):
        np.left_shift(a, np.maximum(shift, 0), out=a)
        np.clip(a, INT32_MIN, INT32_MAX, out=a)
    saturated = (a == INT32_MIN) & (multiplier == INT32_MIN) if np.any(multiplier == INT32_MIN) else None
    # srdhm: C's truncating (ab + nudge) / 2^31 with nudge 2^30 or 1 - 2^30 by the sign of ab
    # equals the floor (ab + 2^30) >> 31 for either sign.
    a *= multiplier
    a += 1 << 30
    a >>= 31
    if saturated is not None:
        a[saturated] = INT32_MAX
    right = np.maximum(-shift, 0)
    # Rounding half away from zero of high / 2^right: floor((high + 2^(right-1) - [high < 0]) / 2^right),
    # and high itself when right is 0.
    negative = a < 0
    if not np.all(right > 0):
        negative &= right > 0
    a += (np.int64(1) << right) >> 1
    a -= negative
    a >>= right
    return a
