// standardize and channel_norms for the harness: sgd_update's (count, channels, inner) layout,
// count not always a multiple of channels * inner.
#include "fuzz_kernels.h"

static void fuzz_layout(fuzz_t *f, int32_t *p) {
    p[1] = fuzz_range(f, 1, 8), p[2] = fuzz_range(f, 1, 40);
    p[0] = fuzz_chance(f, 50) ? p[1] * p[2] * fuzz_range(f, 1, 3) : fuzz_range(f, 1, 300);
}

int call_standardize(fuzz_t *f, const int32_t *p) {
    qnn_s32_t g = fuzz_s32(f, (size_t)p[0]);
    int shift = fuzz_range(f, 0, 31);  // huge and tiny magnitudes
    for (size_t i = 0; i < g.n; i++) {
        g.p[i] >>= shift;
    }
    return qnn_standardize(g, fuzz_params(f, p, QNN_STANDARDIZE_NPARAMS));
}

void fuzz_standardize(fuzz_t *f) {
    int32_t p[QNN_STANDARDIZE_NPARAMS];
    fuzz_layout(f, p);
    p[3] = fuzz_range(f, 0, 30);
    fuzz_done(f, call_standardize(f, p));
}

int call_channel_norms(fuzz_t *f, const int32_t *p) {
    qnn_s32_t out = fuzz_s32(f, (size_t)p[1]);
    size_t n = fuzz_len(f, (size_t)p[0]);
    qnn_cany_t g = {fuzz_alloc(f, n * (size_t)p[4]), n, (size_t)p[4]};
    return qnn_channel_norms(out, g, fuzz_params(f, p, QNN_CHANNEL_NORMS_NPARAMS));
}

void fuzz_channel_norms(fuzz_t *f) {
    int32_t p[HARNESS_CHANNEL_NORMS_NPARAMS];
    fuzz_layout(f, p);
    p[3] = fuzz_range(f, 0, 63);
    p[4] = f->hostile && fuzz_chance(f, 5) ? 8 : 1 << fuzz_range(f, 0, 2);
    fuzz_done(f, call_channel_norms(f, p));
}
