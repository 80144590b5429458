// Forward ops for the harness: call_* runs a kernel on buffers sized for its params block
// (fuzzed lengths in hostile calls), fuzz_* picks random params first.
#include <stdio.h>
#include <string.h>

#include "fuzz_kernels.h"

typedef int (*scratch_kernel_t)(qnn_s8_t, qnn_cs8_t, qnn_cs8_t, qnn_cs32_t, qnn_cs32_t, qnn_cs32_t, qnn_cs32_t, qnn_s8_t);

// A second output buffer like out, for the same call without scratch.
static qnn_s8_t plain_output(fuzz_t *f, qnn_s8_t out) {
    return (qnn_s8_t){fuzz_alloc(f, out.n), out.n};
}

// The call without scratch must succeed too and give the same output: a scratch changes speed only.
static void expect_same(qnn_s8_t out, qnn_s8_t plain, int plain_status) {
    if (plain_status != QNN_OK || memcmp(plain.p, out.p, out.n) != 0) {
        fprintf(stderr, "the scratch changed the output\n");
        abort();
    }
}

// Runs a kernel that takes a scratch with one, and for the fuzzer, where that succeeds, again without.
static int call_with_scratch(fuzz_t *f, scratch_kernel_t kernel, qnn_s8_t out, qnn_cs8_t x, qnn_cs8_t w,
                             qnn_cs32_t bias, qnn_cs32_t mult, qnn_cs32_t shift, qnn_cs32_t params) {
    int status = kernel(out, x, w, bias, mult, shift, params, fuzz_scratch(f, w.n));
    if (status == QNN_OK && f->scratch) {
        qnn_s8_t plain = plain_output(f, out);
        expect_same(out, plain, kernel(plain, x, w, bias, mult, shift, params, (qnn_s8_t){NULL, 0}));
    }
    return status;
}

int call_fully_connected(fuzz_t *f, const int32_t *p) {
    int32_t batch = p[0], in_n = p[1], out_n = p[2];
    qnn_s8_t out = fuzz_s8(f, (size_t)batch * out_n);
    qnn_cs8_t x = fuzz_cs8(f, (size_t)batch * in_n), w = fuzz_cs8(f, (size_t)out_n * in_n);
    qnn_cs32_t bias = fuzz_cs32(f, out_n), mult = fuzz_multipliers(f, out_n), shift = fuzz_shifts(f, out_n);
    return call_with_scratch(f, qnn_fully_connected_s8, out, x, w, bias, mult, shift, fuzz_params(f, p, QNN_FC_NPARAMS));
}

void fuzz_fully_connected(fuzz_t *f) {
    int32_t act_min = fuzz_range(f, -128, 127);
    int32_t p[] = {fuzz_range(f, 1, 3), fuzz_range(f, 1, 40), fuzz_range(f, 1, 20), fuzz_range(f, -128, 127),
                   fuzz_range(f, -128, 127), act_min, fuzz_range(f, act_min, 127)};
    fuzz_done(f, call_fully_connected(f, p));
}

static int call_conv(fuzz_t *f, const int32_t *p, int depthwise) {
    int32_t batch = p[0], in_h = p[1], in_w = p[2], in_c = p[3], out_h = p[4], out_w = p[5], out_c = p[6];
    qnn_s8_t out = fuzz_s8(f, (size_t)batch * out_h * out_w * out_c);
    qnn_cs8_t x = fuzz_cs8(f, (size_t)batch * in_h * in_w * in_c);
    qnn_cs8_t w = fuzz_cs8(f, (size_t)(depthwise ? 1 : out_c) * p[7] * p[8] * in_c);
    qnn_cs32_t bias = fuzz_cs32(f, out_c), mult = fuzz_multipliers(f, out_c), shift = fuzz_shifts(f, out_c);
    qnn_cs32_t params = fuzz_params(f, p, QNN_CONV_NPARAMS);
    return depthwise ? qnn_depthwise_conv2d_s8(out, x, w, bias, mult, shift, params)
                     : call_with_scratch(f, qnn_conv2d_s8, out, x, w, bias, mult, shift, params);
}
int call_conv2d(fuzz_t *f, const int32_t *p) { return call_conv(f, p, 0); }
int call_depthwise_conv2d(fuzz_t *f, const int32_t *p) { return call_conv(f, p, 1); }

static void fuzz_conv(fuzz_t *f, int depthwise) {
    int32_t in_c = fuzz_range(f, 1, 8), act_min = fuzz_range(f, -128, 127);
    int32_t k_h = fuzz_range(f, 1, 5), k_w = fuzz_range(f, 1, 5);
    int32_t p[] = {fuzz_range(f, 1, 2), fuzz_range(f, 1, 9), fuzz_range(f, 1, 9), in_c, fuzz_range(f, 1, 11),
                   fuzz_range(f, 1, 11), depthwise ? in_c : fuzz_range(f, 1, 8), k_h, k_w, fuzz_range(f, 1, 3),
                   fuzz_range(f, 1, 3), fuzz_range(f, 0, k_h + 1), fuzz_range(f, 0, k_w + 1),
                   fuzz_range(f, -128, 127), fuzz_range(f, -128, 127), act_min, fuzz_range(f, act_min, 127)};
    if (fuzz_chance(f, 25)) {  // pointwise
        p[7] = p[8] = p[9] = p[10] = 1;
        p[11] = p[12] = 0;
        p[4] = p[1];
        p[5] = p[2];
    }
    fuzz_done(f, call_conv(f, p, depthwise));
}
void fuzz_conv2d(fuzz_t *f) { fuzz_conv(f, 0); }
void fuzz_depthwise_conv2d(fuzz_t *f) { fuzz_conv(f, 1); }

static int call_pool(fuzz_t *f, const int32_t *p, int (*kernel)(qnn_s8_t, qnn_cs8_t, qnn_cs32_t)) {
    qnn_s8_t out = fuzz_s8(f, (size_t)p[0] * p[4] * p[5] * p[3]);
    qnn_cs8_t x = fuzz_cs8(f, (size_t)p[0] * p[1] * p[2] * p[3]);
    return kernel(out, x, fuzz_params(f, p, QNN_POOL_NPARAMS));
}
int call_max_pool(fuzz_t *f, const int32_t *p) { return call_pool(f, p, qnn_max_pool_s8); }
int call_avg_pool(fuzz_t *f, const int32_t *p) { return call_pool(f, p, qnn_avg_pool_s8); }

// One axis of a valid pool window: k, stride, pad < k, and out_size windows that all hold an input.
static void pool_axis(fuzz_t *f, int32_t size, int32_t *k, int32_t *stride, int32_t *pad, int32_t *out) {
    *k = fuzz_range(f, 1, 5);
    *stride = fuzz_range(f, 1, 3);
    *pad = fuzz_range(f, 0, *k - 1);
    *out = fuzz_range(f, 1, (size - 1 + *pad) / *stride + 1);
}

static void fuzz_pool(fuzz_t *f, int (*kernel)(qnn_s8_t, qnn_cs8_t, qnn_cs32_t)) {
    int32_t p[QNN_POOL_NPARAMS] = {fuzz_range(f, 1, 2), fuzz_range(f, 1, 9), fuzz_range(f, 1, 9), fuzz_range(f, 1, 6)};
    pool_axis(f, p[1], &p[6], &p[8], &p[10], &p[4]);
    pool_axis(f, p[2], &p[7], &p[9], &p[11], &p[5]);
    p[12] = fuzz_range(f, -128, 127);
    p[13] = fuzz_range(f, p[12], 127);
    fuzz_done(f, call_pool(f, p, kernel));
}
void fuzz_max_pool(fuzz_t *f) { fuzz_pool(f, qnn_max_pool_s8); }
void fuzz_avg_pool(fuzz_t *f) { fuzz_pool(f, qnn_avg_pool_s8); }

int call_global_avg_pool(fuzz_t *f, const int32_t *p) {
    qnn_s8_t out = fuzz_s8(f, (size_t)p[0] * p[3]);
    qnn_cs8_t x = fuzz_cs8(f, (size_t)p[0] * p[1] * p[2] * p[3]);
    return qnn_global_avg_pool_s8(out, x, fuzz_params(f, p, QNN_GLOBAL_POOL_NPARAMS));
}

void fuzz_global_avg_pool(fuzz_t *f) {
    int32_t act_min = fuzz_range(f, -128, 127);
    int32_t p[] = {fuzz_range(f, 1, 3), fuzz_range(f, 1, 9), fuzz_range(f, 1, 9), fuzz_range(f, 1, 8), act_min,
                   fuzz_range(f, act_min, 127)};
    fuzz_done(f, call_global_avg_pool(f, p));
}

int call_add(fuzz_t *f, const int32_t *p) {
    qnn_s8_t out = fuzz_s8(f, (size_t)p[0]);
    qnn_cs8_t a = fuzz_cs8(f, (size_t)p[0]), b = fuzz_cs8(f, (size_t)p[0]);
    qnn_cs32_t params = fuzz_params(f, p, QNN_ADD_NPARAMS);
    int status = qnn_add_s8(out, a, b, params, fuzz_scratch(f, QNN_ADD_SCRATCH / 4));
    if (status == QNN_OK && f->scratch) {
        qnn_s8_t plain = plain_output(f, out);
        expect_same(out, plain, qnn_add_s8(plain, a, b, params, (qnn_s8_t){NULL, 0}));
    }
    return status;
}

void fuzz_add(fuzz_t *f) {
    int32_t act_min = fuzz_range(f, -128, 127);
    int32_t p[] = {fuzz_range(f, 1, 64), fuzz_range(f, -128, 127), (int32_t)(fuzz_u32(f) >> 1), fuzz_range(f, -31, 30),
                   fuzz_range(f, -128, 127), (int32_t)(fuzz_u32(f) >> 1), fuzz_range(f, -31, 30), fuzz_range(f, 0, 20),
                   fuzz_range(f, -128, 127), (int32_t)(fuzz_u32(f) >> 1), fuzz_range(f, -31, 30), act_min,
                   fuzz_range(f, act_min, 127)};
    fuzz_done(f, call_add(f, p));
}

int call_requantize(fuzz_t *f, const int32_t *p) {
    qnn_s8_t out = fuzz_s8(f, (size_t)p[0]);
    qnn_cs32_t acc = fuzz_cs32(f, (size_t)p[0]), mult = fuzz_multipliers(f, p[1]), shift = fuzz_shifts(f, p[1]);
    return qnn_requantize_s8(out, acc, mult, shift, fuzz_params(f, p, QNN_REQUANTIZE_NPARAMS));
}

void fuzz_requantize(fuzz_t *f) {
    int32_t act_min = fuzz_range(f, -128, 127);
    int32_t p[] = {fuzz_range(f, 1, 64), fuzz_range(f, 1, 8), fuzz_range(f, -128, 127), act_min, fuzz_range(f, act_min, 127)};
    fuzz_done(f, call_requantize(f, p));
}

int call_argmax(fuzz_t *f, const int32_t *p) {
    qnn_s32_t out = fuzz_s32(f, (size_t)p[0]);
    qnn_cs8_t x = fuzz_cs8(f, (size_t)p[0] * p[1]);
    return qnn_argmax_s8(out, x, fuzz_params(f, p, QNN_ARGMAX_NPARAMS));
}

void fuzz_argmax(fuzz_t *f) {
    int32_t p[] = {fuzz_range(f, 1, 4), fuzz_range(f, 1, 40)};
    fuzz_done(f, call_argmax(f, p));
}
