#include "gradient.h"

int qnn_clamp_mask(qnn_any_t g, qnn_cs8_t y, qnn_cs32_t params) {
    if (params.n != QNN_CLAMP_MASK_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t count = params.p[0], act_min = params.p[1], act_max = params.p[2];
    if (count < 1 || act_min < -128 || act_max > 127 || act_min > act_max || !qnn_grad_size_ok(g.size)) {
        return QNN_ERR_PARAMS;
    }
    if ((size_t)count != y.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if ((size_t)count != g.n) {
        return QNN_ERR_AUX_LEN;
    }
    // An output at a bound may have been clamped there: its gradient does not flow back.
    uint8_t *bytes = g.p;
    for (size_t i = 0; i < (size_t)count; i++) {
        if (y.p[i] <= act_min || y.p[i] >= act_max) {
            for (size_t k = 0; k < g.size; k++) {
                bytes[i * g.size + k] = 0;
            }
        }
    }
    return QNN_OK;
}
