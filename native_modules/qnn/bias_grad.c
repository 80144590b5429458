#include "gradient.h"

// The reduction multiplies by the int8 operand; a bias gradient has none, so it reads this one
// value with step 0.
static const int8_t one = 1;

int qnn_bias_grad(qnn_s32_t gb, qnn_cany_t g, qnn_cs32_t params) {
    if (params.n != QNN_BIAS_GRAD_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t rows = params.p[0], channels = params.p[1];
    if (rows < 1 || channels < 1 || !qnn_grad_size_ok(g.size)) {
        return QNN_ERR_PARAMS;
    }
    if ((uint64_t)rows * (uint64_t)channels != g.n) {
        return QNN_ERR_AUX_LEN;
    }
    if ((size_t)channels != gb.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    qnn_grad_sum_t s = {
        .a = &one,
        .g = g.p, .g_size = g.size, .g_col = 1, .g_step = {0, 0, channels},
        .n = {1, 1, (size_t)rows},
    };
    qnn_grad_sum(gb.p, (size_t)channels, 1, &s);
    return QNN_OK;
}
