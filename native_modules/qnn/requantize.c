#include "qnn.h"

int qnn_requantize_s8(qnn_s8_t out, qnn_cs32_t acc, qnn_cs32_t multiplier, qnn_cs32_t shift, qnn_cs32_t params) {
    if (params.n != QNN_REQUANTIZE_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t count = params.p[0], channels = params.p[1], out_zp = params.p[2];
    int32_t act_min = params.p[3], act_max = params.p[4];
    if (count < 1 || channels < 1 || out_zp < -128 || out_zp > 127 || act_min < -128 || act_max > 127
        || act_min > act_max) {
        return QNN_ERR_PARAMS;
    }
    if ((size_t)count != acc.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if ((size_t)channels != multiplier.n || (size_t)channels != shift.n) {
        return QNN_ERR_BIAS_LEN;
    }
    if ((size_t)count != out.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    if (!qnn_requant_params_ok(multiplier.p, shift.p, (size_t)channels)) {
        return QNN_ERR_PARAMS;
    }
    // A wrapping channel counter instead of i % channels: no division per element.
    for (int32_t i = 0, ch = 0; i < count; i++) {
        out.p[i] = qnn_output_s8(acc.p[i], multiplier.p[ch], shift.p[ch], out_zp, act_min, act_max);
        ch = ch + 1 == channels ? 0 : ch + 1;
    }
    return QNN_OK;
}
