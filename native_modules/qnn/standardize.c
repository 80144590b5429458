// Per-channel statistics in sgd_update's (count, channels, inner) layout: element i belongs to
// channel (i / inner) % channels. standardize turns each channel of a gradient into
// (g - mean) / std in fixed point, so that an update moves every channel by its learning rate
// whatever the gradient's scale (FQT's gradient standardization); channel_norms scores the
// channels of a channels-last error for a partial update.
#include "divide.h"
#include "gradient.h"

// The elements of channel c: runs of `inner` elements, one every channels * inner. 64-bit run
// starts, since channels * inner may pass 2^32; a run end stays below 2^32 (both terms < 2^31).
#define FOR_CHANNEL(i, c, count, channels, inner)                                                 \
    for (uint64_t run_ = (uint64_t)(c) * (uint64_t)(inner); run_ < (uint64_t)(count);             \
         run_ += (uint64_t)(channels) * (uint64_t)(inner))                                         \
        for (size_t i = (size_t)run_; i < (size_t)run_ + (size_t)(inner) && i < (size_t)(count); i++)

// g * 2^-e: exact for e <= 0, floor for e > 0 (an arithmetic shift).
static inline int32_t normalised(int32_t g, int e) {
    return e > 0 ? g >> e : g * ((int32_t)1 << -e);
}

// rhaz(a / b) for b >= 1 and |a| < 2^62.
static inline int64_t rhaz_div64(int64_t a, int64_t b) {
    uint64_t unused, half = (uint64_t)b >> 1;
    return a >= 0 ? (int64_t)qnn_divide_u64((uint64_t)a + half, (uint64_t)b, &unused)
                  : -(int64_t)qnn_divide_u64(half - (uint64_t)a, (uint64_t)b, &unused);
}

// floor(sqrt(x)), bit by bit.
static uint32_t isqrt64(uint64_t x) {
    uint64_t root = 0, bit = (uint64_t)1 << 62;
    while (bit > x) {
        bit >>= 2;
    }
    for (; bit; bit >>= 2) {
        if (x >= root + bit) {
            x -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
    }
    return (uint32_t)root;
}

int qnn_standardize(qnn_s32_t g, qnn_cs32_t params) {
    if (params.n != QNN_STANDARDIZE_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t count = params.p[0], channels = params.p[1], inner = params.p[2], q_bits = params.p[3];
    if (count < 1 || channels < 1 || inner < 1 || q_bits < 0 || q_bits > 30) {
        return QNN_ERR_PARAMS;
    }
    if (g.n != (size_t)count) {
        return QNN_ERR_INPUT_LEN;
    }
    // Channels that start past count hold no element.
    for (int32_t c = 0; c < channels && (uint64_t)c * (uint64_t)inner < (uint64_t)count; c++) {
        // v = g scaled by a power of two to max |v| in [2^14, 2^15]: int64 sums cannot overflow.
        uint32_t max_abs = 0;
        FOR_CHANNEL(i, c, count, channels, inner) {
            uint32_t a = g.p[i] < 0 ? 0u - (uint32_t)g.p[i] : (uint32_t)g.p[i];
            max_abs = a > max_abs ? a : max_abs;
        }
        int e = -15;
        while (e < 17 && max_abs >> (e + 15)) {
            e++;
        }
        int64_t sum = 0, n = 0;
        FOR_CHANNEL(i, c, count, channels, inner) {
            sum += normalised(g.p[i], e);
            n++;
        }
        int64_t mean = rhaz_div64(sum, n);
        uint64_t squares = 0;  // < n * 2^32 <= 2^63
        FOR_CHANNEL(i, c, count, channels, inner) {
            int64_t d = normalised(g.p[i], e) - mean;
            squares += (uint64_t)(d * d);
        }
        // std with 8 fraction bits: floor(sqrt(floor(squares * 2^16 / n))) < 2^24.
        uint64_t n_u = (uint64_t)n;
        uint64_t rest, unused;
        uint64_t whole = qnn_divide_u64(squares, n_u, &rest);
        int64_t std = isqrt64((whole << 16) + qnn_divide_u64(rest << 16, n_u, &unused));
        FOR_CHANNEL(i, c, count, channels, inner) {
            int64_t d = normalised(g.p[i], e) - mean;  // |d| <= 2^16: the product stays below 2^55
            g.p[i] = std ? qnn_grad_saturate(rhaz_div64(d * ((int64_t)1 << (q_bits + 8)), std)) : 0;
        }
    }
    return QNN_OK;
}

int qnn_channel_norms(qnn_s32_t out, qnn_cany_t g, qnn_cs32_t params) {
    if (params.n != QNN_CHANNEL_NORMS_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t count = params.p[0], channels = params.p[1], inner = params.p[2], shift = params.p[3];
    if (count < 1 || channels < 1 || inner < 1 || shift < 0 || shift > 63 || !qnn_grad_size_ok(g.size)) {
        return QNN_ERR_PARAMS;
    }
    if (g.n != (size_t)count) {
        return QNN_ERR_INPUT_LEN;
    }
    if (out.n != (size_t)channels) {
        return QNN_ERR_OUTPUT_LEN;
    }
    for (int32_t c = 0; c < channels; c++) {
        uint64_t sum = 0;
        FOR_CHANNEL(i, c, count, channels, inner) {
            int64_t v = qnn_grad_at(g, i);
            uint64_t square = (uint64_t)(v * v);
            sum = sum + square < sum ? UINT64_MAX : sum + square;
        }
        sum >>= shift;
        out.p[c] = sum > INT32_MAX ? INT32_MAX : (int32_t)sum;
    }
    return QNN_OK;
}
