#include "gradient.h"

uint32_t qnn_grad_max_abs(qnn_cany_t g) {
    uint32_t largest = 0;
    for (size_t i = 0; i < g.n; i++) {
        int32_t v = qnn_grad_at(g, i);
        uint32_t magnitude = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
        largest = magnitude > largest ? magnitude : largest;
    }
    return largest;
}

int qnn_grad_fits(const int32_t *start, size_t start_n, uint64_t terms, uint32_t factor, uint32_t g_max) {
    uint64_t bound = 0;
    for (size_t i = 0; i < start_n; i++) {
        uint32_t magnitude = start[i] < 0 ? 0u - (uint32_t)start[i] : (uint32_t)start[i];
        bound = magnitude > bound ? magnitude : bound;
    }
    uint64_t per_unit = terms * factor;  // terms < 2^33, factor <= 255
    if (g_max && per_unit >= ((uint64_t)1 << 31)) {
        return 0;
    }
    return bound + per_unit * g_max < ((uint64_t)1 << 31);  // both factors below 2^32 with g_max
}

void qnn_grad_axpy(int32_t *dst, const int8_t *a, int32_t zp, int32_t g, size_t n) {
    for (size_t i = 0; i < n; i++) {
        dst[i] += ((int32_t)a[i] - zp) * g;
    }
}

void qnn_grad_vmul(int32_t *dst, const int8_t *a, int32_t zp, qnn_cany_t g, size_t at, size_t n) {
    if (g.size == 1) {
        const int8_t *v = (const int8_t *)g.p + at;
        for (size_t i = 0; i < n; i++) {
            dst[i] += ((int32_t)a[i] - zp) * v[i];
        }
    } else if (g.size == 2) {
        const int16_t *v = (const int16_t *)g.p + at;
        for (size_t i = 0; i < n; i++) {
            dst[i] += ((int32_t)a[i] - zp) * v[i];
        }
    } else {
        const int32_t *v = (const int32_t *)g.p + at;
        for (size_t i = 0; i < n; i++) {
            dst[i] += ((int32_t)a[i] - zp) * v[i];
        }
    }
}
