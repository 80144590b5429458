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
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    a = np.clip(acc * (np.int64(1) << left), INT32_MIN, INT32_MAX)
    ab = a * multiplier
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    # C's int64 division truncates toward zero.
    total = ab + nudge
    high = np.where(total >= 0, total >> 31, -((-total) >> 31))
    high = np.where((a == INT32_MIN) & (multiplier == INT32_MIN), INT32_MAX, high)
    mask = (np.int64(1) << right) - 1
    remainder = high & mask
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + (remainder > threshold)
