// Support for the host fuzz harness: a seeded generator and buffers allocated at exactly their
// length, so AddressSanitizer reports any access one element outside them.
#ifndef QNN_FUZZ_SUPPORT_H
#define QNN_FUZZ_SUPPORT_H

#include <stdint.h>
#include <stdlib.h>

#include "../qnn.h"

typedef struct {
    uint64_t state;
    uint64_t calls, ok, rejected;
    int hostile;    // this call may get broken lengths and parameters; the others are valid
    int grad_size;  // element size of gradient tensors, or 0 to pick 1, 2 or 4 at random
    int scratch;    // the fuzzer's: kernels that take one get a scratch, and a call is checked against one without
    void *owned[16];
    int n_owned;
} fuzz_t;

static inline uint32_t fuzz_u32(fuzz_t *f) {
    f->state ^= f->state << 13;
    f->state ^= f->state >> 7;
    f->state ^= f->state << 17;
    return (uint32_t)(f->state >> 32);
}

// Uniform in [lo, hi].
static inline int32_t fuzz_range(fuzz_t *f, int32_t lo, int32_t hi) {
    return lo + (int32_t)(fuzz_u32(f) % (uint32_t)((int64_t)hi - lo + 1));
}

static inline int fuzz_chance(fuzz_t *f, int percent) {
    return (int)(fuzz_u32(f) % 100) < percent;
}

// Mostly the right length; sometimes one off, zero, or anything.
static inline size_t fuzz_len(fuzz_t *f, size_t right) {
    if (!f->hostile) {
        return right;
    }
    switch (fuzz_u32(f) % 16) {
        case 0: return right + 1;
        case 1: return right ? right - 1 : 0;
        case 2: return 0;
        case 3: return fuzz_u32(f) % (2 * right + 8);
        default: return right;
    }
}

// A parameter that is sometimes broken: negative, zero, huge, or off by one.
static inline int32_t fuzz_param(fuzz_t *f, int32_t value) {
    if (!f->hostile) {
        return value;
    }
    // Unsigned arithmetic: a broken value of a broken value must not overflow the harness itself.
    switch (fuzz_u32(f) % 16) {
        case 0: return (int32_t)(0u - (uint32_t)value);
        case 1: return 0;
        case 2: return INT32_MAX;
        case 3: return INT32_MIN;
        case 4: return (int32_t)((uint32_t)value + 1u);
        case 5: return (int32_t)((uint32_t)value - 1u);
        default: return value;
    }
}

static inline void *fuzz_alloc(fuzz_t *f, size_t bytes) {
    uint8_t *p = malloc(bytes ? bytes : 1);
    for (size_t i = 0; i < bytes; i++) {
        p[i] = (uint8_t)fuzz_u32(f);
    }
    f->owned[f->n_owned++] = p;
    return p;
}

static inline qnn_s8_t fuzz_s8(fuzz_t *f, size_t right) {
    size_t n = fuzz_len(f, right);
    return (qnn_s8_t){fuzz_alloc(f, n), n};
}

static inline qnn_cs8_t fuzz_cs8(fuzz_t *f, size_t right) {
    qnn_s8_t s = fuzz_s8(f, right);
    return (qnn_cs8_t){s.p, s.n};
}

static inline qnn_s32_t fuzz_s32(fuzz_t *f, size_t right) {
    size_t n = fuzz_len(f, right);
    return (qnn_s32_t){fuzz_alloc(f, n * 4), n};
}

static inline qnn_cs32_t fuzz_cs32(fuzz_t *f, size_t right) {
    qnn_s32_t s = fuzz_s32(f, right);
    return (qnn_cs32_t){s.p, s.n};
}

// Requantization parameters, mostly valid.
static inline qnn_cs32_t fuzz_multipliers(fuzz_t *f, size_t right) {
    qnn_s32_t s = fuzz_s32(f, right);
    for (size_t i = 0; i < s.n; i++) {
        s.p[i] = f->hostile && fuzz_chance(f, 5) ? -1 : (int32_t)(fuzz_u32(f) >> 1);
    }
    return (qnn_cs32_t){s.p, s.n};
}

static inline qnn_cs32_t fuzz_shifts(fuzz_t *f, size_t right) {
    qnn_s32_t s = fuzz_s32(f, right);
    for (size_t i = 0; i < s.n; i++) {
        s.p[i] = f->hostile && fuzz_chance(f, 5) ? 40 : fuzz_range(f, -31, 30);
    }
    return (qnn_cs32_t){s.p, s.n};
}

// A scratch of any length up to about 5 bytes a weight (none, too short for four channels'
// widened weights or add's tables, enough for some channels or for all), at any alignment; none
// outside the fuzzer (the benchmark times the kernels without).
static inline qnn_s8_t fuzz_scratch(fuzz_t *f, size_t weights) {
    if (!f->scratch) {
        return (qnn_s8_t){NULL, 0};
    }
    size_t n = fuzz_chance(f, 20) ? 0 : fuzz_u32(f) % (5 * weights + 8), offset = fuzz_u32(f) % 4;
    int8_t *p = fuzz_alloc(f, n + offset);
    return (qnn_s8_t){p + offset, n};
}

// A params block of `count` values from `values`, each sometimes broken, sometimes the wrong count.
static inline qnn_cs32_t fuzz_params(fuzz_t *f, const int32_t *values, size_t count) {
    size_t n = fuzz_chance(f, 10) ? fuzz_len(f, count) : count;
    int32_t *p = fuzz_alloc(f, n * 4);
    for (size_t i = 0; i < n; i++) {
        p[i] = fuzz_param(f, i < count ? values[i] : 0);
    }
    return (qnn_cs32_t){p, n};
}

static inline void fuzz_done(fuzz_t *f, int status) {
    f->calls++;
    if (status < 0) {
        f->rejected++;
    } else {
        f->ok++;
    }
    while (f->n_owned) {
        free(f->owned[--f->n_owned]);
    }
    f->hostile = fuzz_chance(f, 50);
}

#endif
