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
    acc = np.asarray(acc, dtype=np.int64)
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    a = acc
    if np.any(shift > 0):
        a = np.clip(acc << np.maximum(shift, 0), INT32_MIN, INT32_MAX)
    ab = a * multiplier
    # srdhm: C's truncating (ab + nudge) / 2^31 with nudge 2^30 or 1 - 2^30 by the sign of ab
    # equals the floor (ab + 2^30) >> 31 for either sign.
    high = (ab + (1 << 30)) >> 31
    if np.any(multiplier == INT32_MIN):
        high = np.where((a == INT32_MIN) & (multiplier == INT32_MIN), INT32_MAX, high)
    right = np.maximum(-shift, 0)
    # Rounding half away from zero of high / 2^right: floor((high + 2^(right-1) - [high < 0]) / 2^right),
    # and high itself when right is 0.
    half = (np.int64(1) << right) >> 1
    return (high + half - ((high < 0) & (right > 0))) >> right
