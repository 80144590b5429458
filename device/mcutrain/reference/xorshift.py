"""xorshift32: the one random stream of the training kernels (docs/kernels.md).

A seed is an int in [0, 2^30); the state starts at seed ^ 0x9E3779B9 (bit 31 set, so never 0).
One step: x ^= x << 13; x ^= x >> 17; x ^= x << 5 (uint32); the step's result is the next output.

Rademacher vector u of length n: output k gives entries 32k .. 32k+31, bit j (LSB first) entry
32k+j, bit 1 = +1, bit 0 = -1.

Stochastic rounding of v / 2^s (s in [0, 62]): floor((v + r) / 2^s), r from the element's own
output `out`: out >> (32 - s) for 1 <= s <= 32, out << (s - 32) for s > 32, 0 for s = 0. Element i
takes output i, whatever the shifts (s = 0 also draws one). rhaz rounding draws nothing.

The step is linear over GF(2): x' = A x for a 32x32 bit matrix A. The first 256 outputs of any
seed are read from byte tables of A^1 .. A^256 (4 rows XORed); longer streams are built by
doubling: outputs L .. 2L-1 are A^L applied to outputs 0 .. L-1, and A^2L = A^L A^L, so a
stream of n outputs costs about 4 log2(n / 256) more vectorised table lookups instead of n Python
steps (the tables are computed once for all seeds).
"""

import functools

import numpy as np

SEED_LIMIT = 1 << 30
GOLDEN = 0x9E3779B9


def seed_ok(seed):
    return 0 <= seed < SEED_LIMIT


def _step(x):
    x = x ^ (x << np.uint32(13))
    x ^= x >> np.uint32(17)
    x ^= x << np.uint32(5)
    return x


def _tables(columns):
    """The bit matrix with these 32 columns as 4 tables of 256 entries: entry j of table k is the
    XOR of the columns 8k + i for the bits i of j, so a product is 4 lookups and 3 XORs."""
    bits = (np.arange(256, dtype=np.uint32)[:, None] >> np.arange(8, dtype=np.uint32)) & np.uint32(1)
    tables = []
    for k in range(4):
        picked = np.where(bits.astype(bool), columns[8 * k:8 * k + 8][None, :], np.uint32(0))
        tables.append(np.bitwise_xor.reduce(picked, axis=1))
    return tables


def _apply(tables, v):
    out = tables[0][v & np.uint32(255)]
    for k in range(1, 4):
        out ^= tables[k][(v >> np.uint32(8 * k)) & np.uint32(255)]
    return out


# A^(2^i) as lookup tables, shared by every seed: the doubling needs the same powers each time.
_POWERS = [_tables(_step(np.uint32(1) << np.arange(32, dtype=np.uint32)))]


def _power(i):
    while len(_POWERS) <= i:
        last = _POWERS[-1]
        columns = _apply(last, _apply(last, np.uint32(1) << np.arange(32, dtype=np.uint32)))
        _POWERS.append(_tables(columns))
    return _POWERS[i]


def _first_tables():
    """tables[j, v, k]: output k of the state whose byte j is v and other bytes 0. Output k is
    A^(k+1) of the state, linear, so any state's first outputs are 4 rows XORed."""
    columns = np.empty((_FIRST, 32), np.uint32)  # columns[k, b]: A^(k+1) of state bit b
    v = np.uint32(1) << np.arange(32, dtype=np.uint32)
    for k in range(_FIRST):
        v = _step(v)
        columns[k] = v
    values = np.arange(256)
    tables = np.zeros((4, 256, _FIRST), np.uint32)
    for j in range(4):
        for i in range(8):
            tables[j, (values >> i) & 1 == 1] ^= columns[:, 8 * j + i]
    return tables


_FIRST = 256  # a power of two: longer streams go on by doubling
_FIRST_TABLES = _first_tables()


def outputs(seed, count):
    """The first `count` outputs of the stream of `seed`, as uint32."""
    state = (seed ^ GOLDEN) & 0xFFFFFFFF
    first = min(count, _FIRST)
    x = _FIRST_TABLES[0, state & 255, :first].copy()
    for j in range(1, 4):
        x ^= _FIRST_TABLES[j, (state >> 8 * j) & 255, :first]
    i = _FIRST.bit_length() - 1
    while len(x) < count:
        x = np.concatenate([x, _apply(_power(i), x)])
        i += 1
    return x[:count]


@functools.lru_cache(maxsize=256)
def rademacher(seed, n):
    """u as int64 +1/-1 entries, read-only: a training step asks for the same u up to three times
    (perturb, unperturb, accumulate), so the last few are kept."""
    words = outputs(seed, (n + 31) // 32).astype("<u4")
    bits = np.unpackbits(words.view(np.uint8), bitorder="little")[:n]
    u = bits.astype(np.int64) * 2 - 1
    u.flags.writeable = False
    return u


def round_shift(v, s, stochastic, seed, first=0):
    """v / 2^s elementwise (int64 arrays, |v| < 2^62, s in [0, 62]): rhaz, or stochastic
    rounding with the stream of `seed` from its output `first` on."""
    v = np.asarray(v, dtype=np.int64)
    s = np.broadcast_to(np.asarray(s, dtype=np.int64), v.shape)
    if stochastic:
        out = outputs(seed, first + v.size)[first:].astype(np.int64).reshape(v.shape)
        low = out >> np.clip(32 - s, 0, 32)
        r = np.where(s == 0, 0, np.where(s <= 32, low, out << np.maximum(s - 32, 0)))
        return (v + r) >> s
    half = np.where(s > 0, np.int64(1) << np.maximum(s - 1, 0), 0)
    return np.where(v >= 0, (v + half) >> s, -((half - v) >> s))
