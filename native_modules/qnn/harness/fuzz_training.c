// Training kernels for the harness: call_* runs a kernel on buffers sized for its harness params
// (layouts in fuzz_kernels.h; fuzzed lengths, and broken scalar arguments, in hostile calls),
// fuzz_* picks random params first.
#include "fuzz_kernels.h"
#include "update.h"  // QNN_UPDATE_NPARAMS, sgd_update's and zo_update's params block

// An element size as fuzz_gradients.c's fuzz_grad picks it: int8, int16 (which the int8-or-int32
// kernels reject) or int32, and in hostile calls sometimes 8 bytes.
static int32_t fuzz_size(fuzz_t *f) {
    return f->hostile && fuzz_chance(f, 5) ? 8 : 1 << fuzz_range(f, 0, 2);
}

static qnn_any_t fuzz_any(fuzz_t *f, size_t right, int32_t size) {
    size_t n = fuzz_len(f, right);
    return (qnn_any_t){fuzz_alloc(f, n * (size_t)size), n, (size_t)size};
}

static int32_t fuzz_seed(fuzz_t *f) {
    return fuzz_range(f, 0, (1 << 30) - 1);
}

// int32 values in [lo, hi], in hostile calls sometimes `bad`.
static qnn_cs32_t fuzz_between(fuzz_t *f, size_t right, int32_t lo, int32_t hi, int32_t bad) {
    qnn_s32_t s = fuzz_s32(f, right);
    for (size_t i = 0; i < s.n; i++) {
        s.p[i] = f->hostile && fuzz_chance(f, 5) ? bad : fuzz_range(f, lo, hi);
    }
    return (qnn_cs32_t){s.p, s.n};
}

// Random int32 values shifted right by a random amount: huge and tiny magnitudes, and many ties.
static qnn_cs32_t fuzz_values(fuzz_t *f, size_t right) {
    qnn_s32_t s = fuzz_s32(f, right);
    int shift = fuzz_range(f, 0, 31);
    for (size_t i = 0; i < s.n; i++) {
        s.p[i] >>= shift;
    }
    return (qnn_cs32_t){s.p, s.n};
}

static int call_perturbation(fuzz_t *f, const int32_t *p, int undo) {
    qnn_any_t t = fuzz_any(f, (size_t)p[3], p[4]);
    qnn_s8_t mask = fuzz_s8(f, (size_t)p[3] / 8 + (p[3] % 8 != 0));
    int32_t seed = fuzz_param(f, p[0]), sigma = fuzz_param(f, p[1]), sign = fuzz_param(f, p[2]);
    return undo ? qnn_unperturb(t, (qnn_cs8_t){mask.p, mask.n}, seed, sigma, sign)
                : qnn_perturb(t, mask, seed, sigma, sign);
}

int call_perturb(fuzz_t *f, const int32_t *p) { return call_perturbation(f, p, 0); }
int call_unperturb(fuzz_t *f, const int32_t *p) { return call_perturbation(f, p, 1); }

static void fuzz_perturbation(fuzz_t *f, int undo) {
    int32_t size = fuzz_size(f);
    int32_t p[] = {fuzz_seed(f), fuzz_range(f, 1, size == 1 ? 127 : INT32_MAX), fuzz_chance(f, 50) ? 1 : -1,
                   fuzz_range(f, 0, 300), size};
    fuzz_done(f, call_perturbation(f, p, undo));
}

void fuzz_perturb(fuzz_t *f) { fuzz_perturbation(f, 0); }
void fuzz_unperturb(fuzz_t *f) { fuzz_perturbation(f, 1); }

int call_seeds(fuzz_t *f, const int32_t *p) {
    qnn_s32_t out = fuzz_s32(f, (size_t)p[1]), state = fuzz_s32(f, 1);
    if (state.n) {
        state.p[0] = p[0];
    }
    return qnn_seeds(out, state);
}

void fuzz_seeds(fuzz_t *f) {
    // Any state but the one of a zero xorshift state, which hostile calls sometimes get.
    int32_t p[] = {f->hostile && fuzz_chance(f, 10) ? (int32_t)0x9E3779B9u : (int32_t)fuzz_u32(f),
                   fuzz_range(f, 0, 300)};
    fuzz_done(f, call_seeds(f, p));
}

int call_zo_update(fuzz_t *f, const int32_t *p) {
    qnn_any_t w = fuzz_any(f, (size_t)p[0], p[6]);
    qnn_cs32_t seeds = fuzz_between(f, p[5], 0, (1 << 30) - 1, 1 << 30), coeffs = fuzz_values(f, p[5]);
    qnn_cs32_t mult = fuzz_between(f, p[1], 0, INT32_MAX, -1), shift = fuzz_between(f, p[1], 0, 62, 63);
    return qnn_zo_update(w, seeds, coeffs, mult, shift, fuzz_params(f, p, QNN_UPDATE_NPARAMS));
}

// sgd_update's and zo_update's params block; count need not be a multiple of channels * inner.
static void fuzz_update_params(fuzz_t *f, int32_t *p) {
    p[0] = fuzz_range(f, 1, 300), p[1] = fuzz_range(f, 1, 8), p[2] = fuzz_range(f, 1, 40);
    p[3] = fuzz_range(f, 0, 1), p[4] = fuzz_seed(f);
}

void fuzz_zo_update(fuzz_t *f) {
    int32_t p[HARNESS_ZO_NPARAMS];
    fuzz_update_params(f, p);
    p[5] = fuzz_range(f, 1, QNN_ZO_MAX_QUERIES), p[6] = fuzz_size(f);
    fuzz_done(f, call_zo_update(f, p));
}

int call_zo_node_gradient(fuzz_t *f, const int32_t *p) {
    size_t batch = (size_t)p[0], queries = (size_t)p[6];
    qnn_s32_t g = fuzz_s32(f, batch * (size_t)p[7]);
    qnn_cs8_t y = fuzz_cs8(f, batch * (size_t)p[1]);
    qnn_cs32_t seeds = fuzz_between(f, queries * batch, 0, (1 << 30) - 1, 1 << 30);
    qnn_cs32_t coeffs = fuzz_values(f, queries * batch);
    return qnn_zo_node_gradient(g, y, seeds, coeffs, fuzz_params(f, p, QNN_ZO_NODE_GRADIENT_NPARAMS));
}

void fuzz_zo_node_gradient(fuzz_t *f) {
    int32_t period = fuzz_range(f, 1, 100), nodes = period * fuzz_range(f, 1, 3);
    int32_t first = fuzz_range(f, 0, nodes - 1), act_min = fuzz_range(f, -128, 127);
    int32_t p[] = {fuzz_range(f, 1, 4), nodes, first, act_min, fuzz_range(f, act_min, 127), period,
                   fuzz_range(f, 1, QNN_ZO_MAX_QUERIES), fuzz_range(f, 1, nodes - first)};
    fuzz_done(f, call_zo_node_gradient(f, p));
}

int call_fill(fuzz_t *f, const int32_t *p) {
    qnn_any_t t = fuzz_any(f, (size_t)p[1], p[2]);
    return qnn_fill(t, fuzz_param(f, p[0]));
}

void fuzz_fill(fuzz_t *f) {
    int32_t size = fuzz_size(f);
    int32_t p[] = {size == 1 ? fuzz_range(f, -128, 127) : (int32_t)fuzz_u32(f), fuzz_range(f, 0, 300), size};
    fuzz_done(f, call_fill(f, p));
}

int call_quantize_s8(fuzz_t *f, const int32_t *p) {
    qnn_s8_t out = fuzz_s8(f, (size_t)p[0]);
    qnn_cs32_t acc = fuzz_values(f, (size_t)p[0]);
    return qnn_quantize_s8(out, acc, fuzz_params(f, p, QNN_QUANTIZE_NPARAMS));
}

void fuzz_quantize_s8(fuzz_t *f) {
    int32_t p[] = {fuzz_range(f, 1, 300), fuzz_range(f, 0, 1), fuzz_seed(f)};
    fuzz_done(f, call_quantize_s8(f, p));
}

int call_sgd_update(fuzz_t *f, const int32_t *p) {
    qnn_any_t w = fuzz_any(f, (size_t)p[0], p[5]);
    qnn_cs32_t g = fuzz_values(f, (size_t)p[0]);
    qnn_cs32_t mult = fuzz_between(f, p[1], 0, INT32_MAX, -1), shift = fuzz_between(f, p[1], 0, 62, 63);
    return qnn_sgd_update(w, g, mult, shift, fuzz_params(f, p, QNN_UPDATE_NPARAMS));
}

void fuzz_sgd_update(fuzz_t *f) {
    int32_t p[HARNESS_SGD_NPARAMS];
    fuzz_update_params(f, p);
    p[5] = fuzz_size(f);
    fuzz_done(f, call_sgd_update(f, p));
}

int call_row_norms(fuzz_t *f, const int32_t *p) {
    qnn_s32_t out = fuzz_s32(f, (size_t)p[0]);
    qnn_any_t g = fuzz_any(f, (size_t)p[0] * p[1], p[3]);
    return qnn_row_norms(out, (qnn_cany_t){g.p, g.n, g.size}, fuzz_params(f, p, QNN_ROW_NORMS_NPARAMS));
}

void fuzz_row_norms(fuzz_t *f) {
    int32_t p[] = {fuzz_range(f, 1, 20), fuzz_range(f, 1, 40), fuzz_range(f, 0, 63), fuzz_size(f)};
    fuzz_done(f, call_row_norms(f, p));
}

int call_topk(fuzz_t *f, const int32_t *p) {
    qnn_s32_t out = fuzz_s32(f, (size_t)p[1]);
    qnn_cs32_t scores = fuzz_values(f, (size_t)p[0]);
    return qnn_topk(out, scores, fuzz_params(f, p, QNN_TOPK_NPARAMS));
}

void fuzz_topk(fuzz_t *f) {
    int32_t n = fuzz_range(f, 1, 64);
    int32_t p[] = {n, fuzz_range(f, 1, n)};
    fuzz_done(f, call_topk(f, p));
}

int call_cross_entropy(fuzz_t *f, const int32_t *p) {
    qnn_s32_t loss = fuzz_s32(f, (size_t)p[0]);
    qnn_s8_t grad = fuzz_s8(f, fuzz_chance(f, 20) ? 0 : (size_t)p[0] * p[1]), labels = fuzz_s8(f, (size_t)p[0]);
    qnn_cs8_t logits = fuzz_cs8(f, (size_t)p[0] * p[1]);
    // Labels below classes; in hostile calls sometimes any byte.
    for (size_t i = 0; i < labels.n; i++) {
        labels.p[i] = (int8_t)(fuzz_u32(f) % (f->hostile && fuzz_chance(f, 5) ? 256u : (uint32_t)p[1]));
    }
    qnn_cs32_t params = fuzz_params(f, p, QNN_CROSS_ENTROPY_NPARAMS);
    return qnn_cross_entropy(loss, grad, logits, (qnn_cs8_t){labels.p, labels.n}, params);
}

void fuzz_cross_entropy(fuzz_t *f) {
    // Scales from a fraction of a nat per step to ones that saturate the loss.
    int32_t scale = fuzz_chance(f, 50) ? fuzz_range(f, 1, 1 << 16) : fuzz_range(f, 1, INT32_MAX);
    int32_t p[] = {fuzz_range(f, 1, 4), fuzz_range(f, 2, 256), fuzz_range(f, -128, 127), scale};
    fuzz_done(f, call_cross_entropy(f, p));
}

int call_crc32(fuzz_t *f, const int32_t *p) {
    qnn_s32_t state = fuzz_s32(f, 1);
    qnn_s8_t data = fuzz_s8(f, (size_t)p[1]);
    if (state.n) {
        state.p[0] = p[0];
    }
    return qnn_crc32(state, (const uint8_t *)data.p, data.n);
}

void fuzz_crc32(fuzz_t *f) {
    int32_t p[] = {(int32_t)fuzz_u32(f), fuzz_range(f, 0, 300)};
    fuzz_done(f, call_crc32(f, p));
}
