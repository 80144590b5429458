#include "qnn.h"

uint64_t qnn_elements(int32_t a, int32_t b, int32_t c, int32_t d) {
    const int32_t dims[4] = {a, b, c, d};
    uint64_t n = 1;
    for (int i = 0; i < 4; i++) {
        n *= (uint32_t)dims[i];  // below 2^32 times below 2^32: cannot wrap
        if (n > UINT32_MAX) {
            return UINT64_MAX;
        }
    }
    return n;
}

int32_t qnn_window(int32_t o, int32_t stride, int32_t pad, int32_t k, int32_t size, int32_t *t_lo, int32_t *t_hi) {
    // In 64 bits every step fits for any int32 arguments: large strides and paddings are legal
    // (their windows are simply empty).
#if defined(__ARM_ARCH_6M__)
    // The usual small factors multiply in 32 bits: a 64-bit product is a libgcc call of about 45
    // instructions on the Cortex-M0, once per output pixel.
    int64_t product = o >= 0 && o < 0x8000 && stride < 0x8000 ? (int64_t)(o * stride) : (int64_t)o * stride;
#else
    int64_t product = (int64_t)o * stride;
#endif
    int64_t first = product - pad;
    int64_t lo = first < 0 ? -first : 0;
    int64_t hi = (int64_t)size - first;
    if (hi > k) {
        hi = k;
    }
    if (lo >= hi) {
        *t_lo = *t_hi = 0;
        return 0;
    }
    *t_lo = (int32_t)lo;
    *t_hi = (int32_t)hi;
    return (int32_t)(first + lo);
}
