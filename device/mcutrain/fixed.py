"""Fixed-point numbers for every factor that decides an update.

A factor is a pair (m, e) meaning m * 2**e with an integer m. Floats enter only here and only
through their float32 bit pattern, rounded to 16 significant bits, so an RP2040 (single-precision
soft float), a Cortex-M7 and a 64-bit host derive the same integers from the same setting.
All arithmetic after that is integer, done at configuration time (big ints are fine there).
"""

import struct

MANTISSA_BITS = 16
NORMAL_BITS = 31


def from_float(x):
    """(m, e) for a float: its float32 value rounded to MANTISSA_BITS significant bits."""
    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    exponent = (bits >> 23) & 0xFF
    if exponent == 0xFF:
        raise ValueError("not a finite number: %r" % x)
    mantissa = bits & 0x7FFFFF
    if exponent:
        mantissa |= 0x800000
        e = exponent - 150
    else:
        e = -149
    if mantissa == 0:
        return (0, 0)
    m, e = normalise(mantissa, e, MANTISSA_BITS)
    return (-m if bits >> 31 else m, e)


def from_int(n):
    return (n, 0)


def normalise(m, e, bits=NORMAL_BITS):
    """Round |m| to at most `bits` bits (half up), adjusting e."""
    negative = m < 0
    m = -m if negative else m
    excess = _bit_length(m) - bits
    if excess > 0:
        m = (m + (1 << (excess - 1))) >> excess
        e += excess
        if _bit_length(m) > bits:
            m >>= 1
            e += 1
    return (-m if negative else m, e)


def mul(a, b):
    return normalise(a[0] * b[0], a[1] + b[1])


def div(a, b):
    """a / b to NORMAL_BITS bits, rounded toward zero (b non-zero)."""
    if b[0] == 0:
        raise ZeroDivisionError("fixed-point division by zero")
    shift = 2 * NORMAL_BITS
    return normalise((a[0] << shift) // b[0] if a[0] >= 0 else -((-a[0] << shift) // b[0]),
                     a[1] - b[1] - shift)


def to_step(a):
    """(multiplier, shift) for sgd_update: a ~= multiplier / 2**shift, multiplier in [0, 2^31),
    shift in [0, 62]. Factors too small for shift 62 lose bits; too large ones saturate."""
    m, e = normalise(a[0], a[1])
    if m < 0:
        raise ValueError("a step must not be negative")
    if e > 0:
        return ((1 << NORMAL_BITS) - 1 if m and (m << e) >= (1 << NORMAL_BITS) else m << e, 0)
    shift = -e
    if shift > 62:
        m >>= shift - 62
        shift = 62
    return (m, shift)


def to_int(a, fraction_bits=0):
    """round(a * 2**fraction_bits), half up: a Q-format integer."""
    m, e = a[0], a[1] + fraction_bits
    if e >= 0:
        return m << e
    return (m + (1 << (-e - 1))) >> -e


def to_float(a):
    """For reporting only."""
    return a[0] * 2.0 ** a[1]


def _bit_length(n):
    length = 0
    while n >> (length + 16):
        length += 16
    while n >> length:
        length += 1
    return length
