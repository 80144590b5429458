// Plain SGD on int8 or int32 weights with a per-channel step size in fixed point. Stochastic
// rounding keeps steps smaller than one weight LSB from vanishing: their expectation survives.
#include "update.h"

int qnn_sgd_update(qnn_any_t w, qnn_cs32_t g, qnn_cs32_t step_multiplier, qnn_cs32_t step_shift,
                   qnn_cs32_t params) {
    qnn_update_t u;
    int status = qnn_update_start(&u, w, params, 1);
    if (status != QNN_OK) {
        return status;
    }
    if (g.n != (size_t)u.count) {
        return QNN_ERR_AUX_LEN;
    }
    if ((status = qnn_update_steps_ok(&u, step_multiplier, step_shift)) != QNN_OK) {
        return status;
    }
    qnn_update_apply(&u, w, 0, u.count, g.p, step_multiplier.p, step_shift.p);
    return QNN_OK;
}
