"""Learning-rate schedules as integer factors in Q15 (32768 = 1.0), the same on every board.

The cosine table is literal integers, not computed with math.cos at import: a board's float
cos would differ in the last bits from the host's, and with it the updates.
"""

ONE = 1 << 15
# round(32768 * (1 + cos(pi * i / 64)) / 2) for i = 0..64
_HALF_COSINE = (
    32768, 32748, 32689, 32591, 32453, 32277, 32063, 31810, 31521, 31195, 30833, 30437, 30007,
    29544, 29049, 28524, 27969, 27387, 26778, 26144, 25486, 24807, 24107, 23389, 22654, 21904,
    21140, 20365, 19580, 18788, 17990, 17188, 16384, 15580, 14778, 13980, 13188, 12403, 11628,
    10864, 10114, 9379, 8661, 7961, 7282, 6624, 5990, 5381, 4799, 4244, 3719, 3224, 2761, 2331,
    1935, 1573, 1247, 958, 705, 491, 315, 177, 79, 20, 0,
)


def constant(step, total):
    return ONE


def cosine(step, total):
    """(1 + cos(pi * step / total)) / 2 in Q15, linearly interpolated; 0 from step >= total."""
    if step >= total:
        return 0
    position = step * 64 * 256 // total
    i, frac = position >> 8, position & 255
    a, b = _HALF_COSINE[i], _HALF_COSINE[i + 1]
    return a + (((b - a) * frac) >> 8)


SCHEDULES = {"constant": constant, "cosine": cosine}
