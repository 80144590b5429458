// Gradient kernels for the harness: call_* runs a kernel on buffers sized for its params block
// (fuzzed lengths in hostile calls), fuzz_* picks random params first.
#include "fuzz_kernels.h"

// A gradient of int8, int16 or int32 elements (hostile calls sometimes get 8-byte elements).
static qnn_any_t fuzz_grad_out(fuzz_t *f, size_t right) {
    size_t size = f->hostile && fuzz_chance(f, 5) ? 8 : f->grad_size ? (size_t)f->grad_size : (size_t)1 << fuzz_range(f, 0, 2);
    size_t n = fuzz_len(f, right);
    return (qnn_any_t){fuzz_alloc(f, n * size), n, size};
}

static qnn_cany_t fuzz_grad(fuzz_t *f, size_t right) {
    qnn_any_t g = fuzz_grad_out(f, right);
    return (qnn_cany_t){g.p, g.n, g.size};
}

static int32_t fuzz_dim(fuzz_t *f, int32_t hi) {
    return fuzz_range(f, 1, hi);
}

int call_fc_weight_grad(fuzz_t *f, const int32_t *p) {
    qnn_s32_t gw = fuzz_s32(f, (size_t)p[2] * p[1]);
    qnn_cs8_t x = fuzz_cs8(f, (size_t)p[0] * p[1]);
    return qnn_fc_weight_grad(gw, x, fuzz_grad(f, (size_t)p[0] * p[2]), fuzz_params(f, p, 4));
}

void fuzz_fc_weight_grad(fuzz_t *f) {
    int32_t p[] = {fuzz_dim(f, 4), fuzz_dim(f, 40), fuzz_dim(f, 20), fuzz_range(f, -128, 127)};
    fuzz_done(f, call_fc_weight_grad(f, p));
}

int call_fc_input_grad(fuzz_t *f, const int32_t *p) {
    qnn_s32_t gx = fuzz_s32(f, (size_t)p[0] * p[1]);
    qnn_cs8_t w = fuzz_cs8(f, (size_t)p[2] * p[1]);
    return qnn_fc_input_grad(gx, w, fuzz_grad(f, (size_t)p[0] * p[2]), fuzz_params(f, p, 3));
}

void fuzz_fc_input_grad(fuzz_t *f) {
    int32_t p[] = {fuzz_dim(f, 4), fuzz_dim(f, 40), fuzz_dim(f, 20)};
    fuzz_done(f, call_fc_input_grad(f, p));
}

int call_bias_grad(fuzz_t *f, const int32_t *p) {
    qnn_s32_t gb = fuzz_s32(f, (size_t)p[1]);
    return qnn_bias_grad(gb, fuzz_grad(f, (size_t)p[0] * p[1]), fuzz_params(f, p, 2));
}

void fuzz_bias_grad(fuzz_t *f) {
    int32_t p[] = {fuzz_dim(f, 50), fuzz_dim(f, 20)};
    fuzz_done(f, call_bias_grad(f, p));
}

// conv2d's first 13 params: small images, kernels sometimes larger than them, strides and
// paddings sometimes huge (their taps read nothing).
static void fuzz_conv_geometry(fuzz_t *f, int32_t *p, int depthwise) {
    p[0] = fuzz_dim(f, 2), p[1] = fuzz_dim(f, 9), p[2] = fuzz_dim(f, 9), p[3] = fuzz_dim(f, 6);
    p[4] = fuzz_dim(f, 10), p[5] = fuzz_dim(f, 10), p[6] = depthwise ? p[3] : fuzz_dim(f, 6);
    p[7] = fuzz_dim(f, 5), p[8] = fuzz_dim(f, 5);
    for (int i = 9; i < 13; i++) {
        p[i] = fuzz_chance(f, 5) ? INT32_MAX - 1 - fuzz_range(f, 0, 3) : fuzz_range(f, i < 11 ? 1 : 0, 3);
    }
}

// A weight gradient's params: 14, or 18 with the output channels and rows it takes (p[14..17]).
static int call_conv_grad(fuzz_t *f, const int32_t *p, size_t count, int weight, int depthwise) {
    size_t in = (size_t)p[0] * p[1] * p[2] * p[3], out = (size_t)p[0] * p[4] * p[5] * p[6];
    size_t w = (size_t)(depthwise ? 1 : p[6]) * p[7] * p[8] * p[3];
    if (weight) {
        if (count > 14) {
            out = (size_t)p[0] * p[17] * p[5] * p[6];
            w = (size_t)(depthwise ? 1 : p[15]) * p[7] * p[8] * p[3];
        }
        qnn_s32_t gw = fuzz_s32(f, w);
        qnn_cs8_t x = fuzz_cs8(f, in);
        qnn_cany_t g = fuzz_grad(f, out);
        qnn_cs32_t params = fuzz_params(f, p, count);
        return depthwise ? qnn_depthwise_weight_grad(gw, x, g, params) : qnn_conv2d_weight_grad(gw, x, g, params);
    }
    qnn_s32_t gx = fuzz_s32(f, in);
    qnn_cs8_t wt = fuzz_cs8(f, w);
    qnn_cany_t g = fuzz_grad(f, out);
    qnn_cs32_t params = fuzz_params(f, p, 13);
    return depthwise ? qnn_depthwise_input_grad(gx, wt, g, params) : qnn_conv2d_input_grad(gx, wt, g, params);
}

int call_conv2d_weight_grad(fuzz_t *f, const int32_t *p) { return call_conv_grad(f, p, 14, 1, 0); }
int call_depthwise_weight_grad(fuzz_t *f, const int32_t *p) { return call_conv_grad(f, p, 14, 1, 1); }
int call_conv2d_input_grad(fuzz_t *f, const int32_t *p) { return call_conv_grad(f, p, 13, 0, 0); }
int call_depthwise_input_grad(fuzz_t *f, const int32_t *p) { return call_conv_grad(f, p, 13, 0, 1); }

static void fuzz_conv_grad(fuzz_t *f, int weight, int depthwise) {
    int32_t p[18];
    fuzz_conv_geometry(f, p, depthwise);
    if (depthwise && !weight && fuzz_chance(f, 40)) {  // the register path's geometry (conv_grad.c's taps_fit)
        p[3] = p[6] = fuzz_range(f, 4, 9), p[9] = p[10] = 1;
        p[11] = fuzz_range(f, 0, p[7] - 1), p[12] = fuzz_range(f, 0, p[8] - 1);
    }
    p[13] = fuzz_range(f, -128, 127);
    size_t count = weight ? 14 : 13;
    if (weight && fuzz_chance(f, 30)) {  // a block of output channels and rows
        p[14] = depthwise ? 0 : fuzz_range(f, 0, p[6] - 1);
        p[15] = depthwise ? p[6] : fuzz_range(f, 1, p[6] - p[14]);
        p[16] = fuzz_range(f, 0, p[4] - 1);
        p[17] = fuzz_range(f, 1, p[4] - p[16]);
        count = 18;
    }
    fuzz_done(f, call_conv_grad(f, p, count, weight, depthwise));
}

void fuzz_conv2d_weight_grad(fuzz_t *f) { fuzz_conv_grad(f, 1, 0); }
void fuzz_depthwise_weight_grad(fuzz_t *f) { fuzz_conv_grad(f, 1, 1); }
void fuzz_conv2d_input_grad(fuzz_t *f) { fuzz_conv_grad(f, 0, 0); }
void fuzz_depthwise_input_grad(fuzz_t *f) { fuzz_conv_grad(f, 0, 1); }

static int call_pool_grad(fuzz_t *f, const int32_t *p, int max) {
    size_t in = (size_t)p[0] * p[1] * p[2] * p[3], out = (size_t)p[0] * p[4] * p[5] * p[3];
    qnn_any_t gx = fuzz_grad_out(f, in);
    qnn_cs8_t x = max ? fuzz_cs8(f, in) : (qnn_cs8_t){NULL, 0};
    qnn_cany_t g = fuzz_grad(f, out);
    qnn_cs32_t params = fuzz_params(f, p, 12);
    return max ? qnn_max_pool_input_grad(gx, x, g, params) : qnn_avg_pool_input_grad(gx, g, params);
}

int call_avg_pool_input_grad(fuzz_t *f, const int32_t *p) { return call_pool_grad(f, p, 0); }
int call_max_pool_input_grad(fuzz_t *f, const int32_t *p) { return call_pool_grad(f, p, 1); }

// Pooling's first 12 params; every window holds an input (pad < k, the last window starts
// inside the image), with kernels, strides and paddings sometimes huge.
static void fuzz_pool_grad(fuzz_t *f, int max) {
    int32_t p[12];
    p[0] = fuzz_dim(f, 2), p[1] = fuzz_dim(f, 9), p[2] = fuzz_dim(f, 9), p[3] = fuzz_dim(f, 5);
    for (int axis = 0; axis < 2; axis++) {
        int huge = fuzz_chance(f, 5);
        int32_t k = huge ? INT32_MAX - 1 - fuzz_range(f, 0, 3) : fuzz_dim(f, 5);
        int32_t stride = huge && fuzz_chance(f, 50) ? INT32_MAX - 1 : fuzz_dim(f, 3);
        int32_t pad = huge ? (1 << 30) : fuzz_range(f, 0, k - 1);
        int32_t most = (int32_t)(((int64_t)p[1 + axis] - 1 + pad) / stride + 1);
        p[6 + axis] = k, p[8 + axis] = stride, p[10 + axis] = pad;
        p[4 + axis] = fuzz_range(f, 1, most < 10 ? most : 10);
    }
    fuzz_done(f, call_pool_grad(f, p, max));
}

void fuzz_avg_pool_input_grad(fuzz_t *f) { fuzz_pool_grad(f, 0); }
void fuzz_max_pool_input_grad(fuzz_t *f) { fuzz_pool_grad(f, 1); }

int call_global_avg_pool_input_grad(fuzz_t *f, const int32_t *p) {
    qnn_s32_t gx = fuzz_s32(f, (size_t)p[0] * p[1] * p[2] * p[3]);
    return qnn_global_avg_pool_input_grad(gx, fuzz_grad(f, (size_t)p[0] * p[3]), fuzz_params(f, p, 4));
}

void fuzz_global_avg_pool_input_grad(fuzz_t *f) {
    int32_t p[] = {fuzz_dim(f, 3), fuzz_dim(f, 8), fuzz_dim(f, 8), fuzz_dim(f, 9)};
    fuzz_done(f, call_global_avg_pool_input_grad(f, p));
}

int call_clamp_mask(fuzz_t *f, const int32_t *p) {
    qnn_cany_t g = fuzz_grad(f, (size_t)p[0]);
    qnn_cs8_t y = fuzz_cs8(f, (size_t)p[0]);
    return qnn_clamp_mask((qnn_any_t){(void *)g.p, g.n, g.size}, y, fuzz_params(f, p, 3));
}

void fuzz_clamp_mask(fuzz_t *f) {
    int32_t act_min = fuzz_range(f, -128, 127);
    int32_t p[] = {fuzz_dim(f, 300), act_min, fuzz_range(f, act_min, 127)};
    fuzz_done(f, call_clamp_mask(f, p));
}
