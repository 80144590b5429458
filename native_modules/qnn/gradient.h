// What the gradient kernels share (gradient.c): one strided int64 reduction that every weight,
// input and bias gradient is an instance of, saturation and rounding division, and runs of
// outputs along one axis of a convolution or pooling window.
//
// Gradients g arrive as qnn_cany_t (qnn_any_t where updated in place): int8, int16 or int32,
// the element size read from the caller's buffer; any other size is QNN_ERR_PARAMS.
#ifndef QNN_GRADIENT_H
#define QNN_GRADIENT_H

#include "qnn.h"

static inline int qnn_grad_size_ok(size_t size) {
    return size == 1 || size == 2 || size == 4;
}

static inline int32_t qnn_grad_saturate(int64_t v) {
    return v < INT32_MIN ? INT32_MIN : (v > INT32_MAX ? INT32_MAX : (int32_t)v);
}

// rhaz(v / d), d >= 1. The result always fits int32 (|v / d| <= |v|); int64 keeps -INT32_MIN exact.
int64_t qnn_grad_rhaz_div(int32_t v, size_t d);

// Element i of a gradient buffer, whatever its element size.
int32_t qnn_grad_at(qnn_cany_t g, size_t i);

// Element i of a gradient buffer = v, saturated to its element type.
void qnn_grad_store(qnn_any_t g, size_t i, int64_t v);

// out[j] = sat32((accumulate ? out[j] : 0) + sum (a[ai] - a_zp) * g[gi]) for j < m, where the
// sum runs over three nested loops (outermost first; an unused level has n = 1) that step the
// element offsets ai and gi, starting from a_at + j * a_col and g_at + j * g_col.
// The reduction is innermost so that each sum stays in a register: kernels have no scratch
// memory for int64 partial sums, and saturating a partial sum would change the result.
typedef struct {
    const int8_t *a;
    int32_t a_zp;
    ptrdiff_t a_at, a_col, a_step[3];
    const void *g;
    size_t g_size;
    ptrdiff_t g_at, g_col, g_step[3];
    size_t n[3];
} qnn_grad_sum_t;
void qnn_grad_sum(int32_t *out, size_t m, int accumulate, const qnn_grad_sum_t *s);

// Convolution / pooling geometry: conv2d's first 13 params, or pooling's first 12 (which have
// no out_c; it is c). 0 unless sizes, kernel and strides are >= 1 and paddings >= 0.
typedef struct {
    int32_t batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, pad_top, pad_left;
} qnn_grad_geom_t;
int qnn_grad_geometry(qnn_grad_geom_t *geo, const int32_t *p, int pooling);

// Consecutive outputs along one axis: the first, how many (0 for none), and `at`.
// A tap run holds the outputs whose tap `tap` reads inside the input; `at` is the input
// position the first one reads (the next ones read at + stride, ...).
// A window run holds the outputs whose window holds input position i; `at` is the tap by which
// the first one holds it (the next ones by at - stride, ...).
typedef struct { int32_t first, count, at; } qnn_grad_run_t;
qnn_grad_run_t qnn_grad_tap_run(int32_t tap, int32_t in_n, int32_t out_n, int32_t stride, int32_t pad);
qnn_grad_run_t qnn_grad_window_run(int32_t i, int32_t k, int32_t out_n, int32_t stride, int32_t pad);

// The fast path of the weight and input gradients: each product goes straight into the int32
// result, in place, in the order the error arrives, skipping zero errors (a ReLU's mask and the
// partial updates leave many). Those int32 sums wrap, so the path is taken only where no sum can
// leave int32: then each sum is exact and saturation changes nothing, as in qnn_grad_sum.
//
// 1 when |start[i]| + terms * factor * max |g| < 2^31 for every i: a result that starts at start
// (n values, none for a result that starts at 0) and adds at most `terms` products, each at most
// factor * |g[j]| in magnitude, stays within int32.
int qnn_grad_fits(const int32_t *start, size_t start_n, uint64_t terms, uint32_t factor, qnn_cany_t g);
// dst[i] += (a[i] - zp) * g for i < n.
void qnn_grad_axpy(int32_t *dst, const int8_t *a, int32_t zp, int32_t g, size_t n);
// dst[i] = sat32(dst[i] + (a[i] - zp) * g) for i < n, g within int16: exact at any start, where
// each element takes this one product (saturated as it is added).
void qnn_grad_axpy_sat(int32_t *dst, const int8_t *a, int32_t zp, int32_t g, size_t n);
// dst[i] += (a[i] - zp) * g[at + i] for i < n.
void qnn_grad_vmul(int32_t *dst, const int8_t *a, int32_t zp, qnn_cany_t g, size_t at, size_t n);

// The register path of the convolution gradients with an int8 error (grad_dot.c): where the
// scatter above loads and stores a result element at every product, this keeps four results in
// registers over a window of errors. acc[j] += sum over rows r < rows and taps t < run of
// e[r * e_row + t * e_step] * (v[r * v_row + t * v_step + j] - zp) for j < n, wrapping modulo 2^32
// (exact where qnn_grad_fits holds); run >= 1, rows >= 1, v_step != 0.
typedef struct {
    const int8_t *v, *e;
    ptrdiff_t v_step, e_step, v_row, e_row;
    int32_t run, rows, zp;
} qnn_grad_dot_t;
void qnn_grad_dot(int32_t *acc, int32_t n, const qnn_grad_dot_t *d);
// 1 when at least three in four of g's n errors are nonzero. The register path costs every
// product; the scatter skips zero errors, which a ReLU's mask, a pool's routing and the partial
// updates make many: it is the faster below about 70% of them nonzero on the Cortex-M0, 78% on
// the M4 (make bench-arm's conv2d_weight_grad, dense, by either path: 6.4 and 9.2 instructions
// per MAC on the M0, 3.6 and 4.6 on the M4); tiny's FQT step took 6.9 M instructions on the M0
// by the register path alone, 5.8 M with this choice.
int qnn_grad_dense(const int8_t *g, size_t n);

// The register path of a depthwise input gradient at stride 1 with an int8 error (grad_taps.c):
// a window's taps as a table, each entry an offset in the error and four channels' weights in
// the form the core's loop multiplies (QNN_GRAD_TAP_WORDS int32, written by qnn_grad_tap_entry),
// so that the loop reads each entry with one LDM and never steps through rows. For p < pixels
// and j < 4: acc[p * n + j] = sum over the entries of e[at + p * n + offset + j] * (weight j),
// wrapping modulo 2^32 (exact where qnn_grad_fits holds); pixels >= 1, taps_end > taps.
#if defined(__ARM_FEATURE_DSP)
#define QNN_GRAD_TAP_WORDS 3
#else
#define QNN_GRAD_TAP_WORDS 5
#endif
#define QNN_GRAD_TAPS_MAX 25  // a 5x5 window: the table lives on the stack (500 bytes on the Cortex-M0)
typedef struct {
    int32_t *acc;
    const int8_t *e;
    ptrdiff_t at;
    const int32_t *taps, *taps_end;
    int32_t pixels, n;
} qnn_grad_taps_t;
void qnn_grad_tap_entry(int32_t *entry, int32_t offset, const int8_t *w);
void qnn_grad_taps(const qnn_grad_taps_t *t);

#endif
