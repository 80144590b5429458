// xorshift32, the one random stream of the training kernels, and the two ways they round by a
// power of two. Specification: device/mcutrain/reference/xorshift.py (docs/kernels.md,
// "Random numbers: xorshift32").
#ifndef QNN_XORSHIFT_H
#define QNN_XORSHIFT_H

#include <stddef.h>
#include <stdint.h>

// Seeds stay below 2^30 so that they are small ints on every MicroPython port.
static inline int qnn_seed_ok(int32_t seed) {
    return seed >= 0 && seed < ((int32_t)1 << 30);
}

// The golden-ratio constant has bit 31 set and seeds do not, so the state is never 0.
static inline uint32_t qnn_xorshift_start(int32_t seed) {
    return (uint32_t)seed ^ 0x9E3779B9u;
}

static inline uint32_t qnn_xorshift_next(uint32_t *state) {
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

// A seed's Rademacher vector: entry i is bit i % 32 (LSB first) of the stream's output i / 32,
// 1 for +1 and 0 for -1.

// v / 2^s for |v| < 2^62 and s in [0, 62]: rhaz when state is NULL, else stochastic rounding,
// floor((v + r) / 2^s) with r uniform in [0, 2^s) from the stream's next output, which is drawn
// for every element, s = 0 included, so that element i always gets output i.
static inline int64_t qnn_round_shift(int64_t v, int s, uint32_t *state) {
    if (state != NULL) {
        uint32_t out = qnn_xorshift_next(state);
        int64_t r = s == 0 ? 0 : (s <= 32 ? (int64_t)(out >> (32 - s)) : (int64_t)out << (s - 32));
        return (v + r) >> s;
    }
    if (s == 0) {
        return v;
    }
    int64_t half = (int64_t)1 << (s - 1);
    return v >= 0 ? (v + half) >> s : -((half - v) >> s);
}

#endif
