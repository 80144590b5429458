#include "gradient.h"

int64_t qnn_grad_rhaz_div(int32_t v, size_t d) {
    // |v| <= 2^31 fits size_t everywhere, so 32-bit cores divide natively.
    size_t magnitude = v < 0 ? (size_t)(0u - (uint32_t)v) : (size_t)v;
    size_t q = magnitude / d, r = magnitude % d;
    q += r >= d - r;  // r >= d / 2 without overflowing 2 * r
    return v < 0 ? -(int64_t)q : (int64_t)q;
}

int32_t qnn_grad_at(qnn_cany_t g, size_t i) {
    return g.size == 1 ? ((const int8_t *)g.p)[i]
         : g.size == 2 ? ((const int16_t *)g.p)[i] : ((const int32_t *)g.p)[i];
}

void qnn_grad_store(qnn_any_t g, size_t i, int64_t v) {
    int32_t s = qnn_grad_saturate(v);
    if (g.size == 4) {
        ((int32_t *)g.p)[i] = s;
        return;
    }
    int32_t top = g.size == 1 ? INT8_MAX : INT16_MAX;
    s = s > top ? top : (s < -top - 1 ? -top - 1 : s);
    if (g.size == 1) {
        ((int8_t *)g.p)[i] = (int8_t)s;
    } else {
        ((int16_t *)g.p)[i] = (int16_t)s;
    }
}

// The innermost level: n products (a[ai] - zp) * g[gi], one loop per element size so that the
// type dispatch stays out of the loops. The loops add in 32 bits, which cores without a 64-bit
// multiply(-accumulate) need: (a - zp) times an int8 or int16 gradient fits, and so does a sum of
// 128 of them; an int32 gradient is split into its high 16 bits (signed) and low 16 bits
// (unsigned), whose products and sums of 128 fit too (255 * 2^16 * 128 < 2^31). The 64-bit total
// is unsigned so that it wraps instead of overflowing (it cannot in practice: that takes more
// than 2^24 products of int32 gradients).
static uint64_t run_sum(const qnn_grad_sum_t *s, ptrdiff_t ai, ptrdiff_t gi) {
    const int8_t *a = s->a;
    const int32_t zp = s->a_zp;
    const ptrdiff_t as = s->a_step[2], gs = s->g_step[2];
    uint64_t acc = 0;
    for (size_t n = s->n[2]; n;) {
        size_t k = n < 128 ? n : 128;
        int32_t high = 0, low = 0;
        n -= k;
        if (s->g_size == 1) {
            for (const int8_t *g = s->g; k; k--, ai += as, gi += gs) {
                low += ((int32_t)a[ai] - zp) * g[gi];
            }
        } else if (s->g_size == 2) {
            for (const int16_t *g = s->g; k; k--, ai += as, gi += gs) {
                low += ((int32_t)a[ai] - zp) * g[gi];
            }
        } else {
            for (const int32_t *g = s->g; k; k--, ai += as, gi += gs) {
                int32_t d = (int32_t)a[ai] - zp;
                high += d * (g[gi] >> 16);
                low += d * (int32_t)((uint32_t)g[gi] & 0xFFFF);
            }
        }
        acc += (uint64_t)((int64_t)high * 65536 + low);
    }
    return acc;
}

// One product per output: a fully connected layer trained on one example, the usual case on a
// board. A flat loop instead of the nested ones keeps it about as fast as the forward op. The
// int32 product is formed from two 32-bit ones, as in run_sum, for cores without a 64-bit multiply.
static void single_products(int32_t *out, size_t m, int accumulate, const qnn_grad_sum_t *s) {
    ptrdiff_t ai = s->a_at, gi = s->g_at;
    for (size_t j = 0; j < m; j++, ai += s->a_col, gi += s->g_col) {
        int32_t g = s->g_size == 1 ? ((const int8_t *)s->g)[gi]
                  : s->g_size == 2 ? ((const int16_t *)s->g)[gi] : ((const int32_t *)s->g)[gi];
        int32_t d = (int32_t)s->a[ai] - s->a_zp;
        int64_t product = (int64_t)(d * (g >> 16)) * 65536 + d * (int32_t)((uint32_t)g & 0xFFFF);
        out[j] = qnn_grad_saturate((accumulate ? out[j] : 0) + product);
    }
}

void qnn_grad_sum(int32_t *out, size_t m, int accumulate, const qnn_grad_sum_t *s) {
    if (s->n[0] == 1 && s->n[1] == 1 && s->n[2] == 1) {
        single_products(out, m, accumulate, s);
        return;
    }
    for (size_t j = 0; j < m; j++) {
        uint64_t acc = accumulate ? (uint64_t)(int64_t)out[j] : 0;
        ptrdiff_t a0 = s->a_at + (ptrdiff_t)j * s->a_col, g0 = s->g_at + (ptrdiff_t)j * s->g_col;
        for (size_t i0 = 0; i0 < s->n[0]; i0++, a0 += s->a_step[0], g0 += s->g_step[0]) {
            ptrdiff_t a1 = a0, g1 = g0;
            for (size_t i1 = 0; i1 < s->n[1]; i1++, a1 += s->a_step[1], g1 += s->g_step[1]) {
                acc += run_sum(s, a1, g1);
            }
        }
        out[j] = qnn_grad_saturate((int64_t)acc);
    }
}

int qnn_grad_geometry(qnn_grad_geom_t *geo, const int32_t *p, int pooling) {
    // Pooling params have no out_c: everything after out_w sits one place earlier.
    const int32_t *k = p + (pooling ? 6 : 7);
    geo->batch = p[0], geo->in_h = p[1], geo->in_w = p[2], geo->in_c = p[3];
    geo->out_h = p[4], geo->out_w = p[5], geo->out_c = pooling ? p[3] : p[6];
    geo->k_h = k[0], geo->k_w = k[1], geo->stride_h = k[2], geo->stride_w = k[3];
    geo->pad_top = k[4], geo->pad_left = k[5];
    for (const int32_t *v = p; v < k + 4; v++) {
        if (*v < 1) {
            return 0;
        }
    }
    return k[4] >= 0 && k[5] >= 0;
}

// n / stride; stride 1 skips the divide, a helper call per pixel on cores without the instruction.
static uint32_t over_stride(uint32_t n, int32_t stride) {
    return stride == 1 ? n : n / (uint32_t)stride;
}

// The outputs o in [0, out_n) with lo <= o * stride <= hi. Callers keep |lo|, |hi| < 2^32, so
// the divisions run in 32 bits (cores without a divide instruction call a much smaller helper).
static qnn_grad_run_t run_between(int64_t lo, int64_t hi, int32_t stride, int32_t out_n) {
    qnn_grad_run_t r = {0, 0, 0};
    if (hi < 0) {
        return r;
    }
    uint32_t first = lo > 0 ? over_stride((uint32_t)(lo - 1), stride) + 1 : 0;
    uint32_t last = over_stride((uint32_t)hi, stride);
    if (last > (uint32_t)out_n - 1) {
        last = (uint32_t)out_n - 1;
    }
    if (first <= last) {
        r.first = (int32_t)first;
        r.count = (int32_t)(last - first + 1);
    }
    return r;
}

// `at` below is computed modulo 2^32: first * stride <= hi < 2^32 is exact, and the true
// result lies in [0, in_n) or [0, k), so the wrapped unsigned sum is that value.
qnn_grad_run_t qnn_grad_tap_run(int32_t tap, int32_t in_n, int32_t out_n, int32_t stride, int32_t pad) {
    qnn_grad_run_t r = run_between((int64_t)pad - tap, (int64_t)in_n - 1 + pad - tap, stride, out_n);
    if (r.count) {
        r.at = (int32_t)((uint32_t)r.first * (uint32_t)stride - (uint32_t)pad + (uint32_t)tap);
    }
    return r;
}

qnn_grad_run_t qnn_grad_window_run(int32_t i, int32_t k, int32_t out_n, int32_t stride, int32_t pad) {
    qnn_grad_run_t r = run_between((int64_t)i + pad - k + 1, (int64_t)i + pad, stride, out_n);
    if (r.count) {
        r.at = (int32_t)((uint32_t)i + (uint32_t)pad - (uint32_t)r.first * (uint32_t)stride);
    }
    return r;
}
