#include "qnn.h"

int qnn_add_s8(qnn_s8_t out, qnn_cs8_t a, qnn_cs8_t b, qnn_cs32_t params) {
    if (params.n != QNN_ADD_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    const int32_t *p = params.p;
    int32_t count = p[0], a_zp = p[1], a_mult = p[2], a_shift = p[3], b_zp = p[4], b_mult = p[5], b_shift = p[6];
    int32_t left_shift = p[7], out_zp = p[8], out_mult = p[9], out_shift = p[10], act_min = p[11], act_max = p[12];
    if (count < 1 || left_shift < 0 || left_shift > 20 || a_zp < -128 || a_zp > 127 || b_zp < -128 || b_zp > 127
        || out_zp < -128 || out_zp > 127 || act_min < -128 || act_max > 127 || act_min > act_max
        || !qnn_requant_params_ok(&a_mult, &a_shift, 1) || !qnn_requant_params_ok(&b_mult, &b_shift, 1)
        || !qnn_requant_params_ok(&out_mult, &out_shift, 1)) {
        return QNN_ERR_PARAMS;
    }
    if ((size_t)count != a.n || (size_t)count != b.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if ((size_t)count != out.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    // Both inputs move to a common finer scale (the left shift keeps their precision: at most
    // 255 * 2^20, well inside int32), are added there, and the sum is rescaled to the output.
    int32_t scale = (int32_t)1 << left_shift;
    for (int32_t i = 0; i < count; i++) {
        int64_t sum = (int64_t)qnn_requantize(((int32_t)a.p[i] - a_zp) * scale, a_mult, a_shift)
                      + qnn_requantize(((int32_t)b.p[i] - b_zp) * scale, b_mult, b_shift);
        sum = sum > INT32_MAX ? INT32_MAX : (sum < INT32_MIN ? INT32_MIN : sum);
        out.p[i] = qnn_output_s8((int32_t)sum, out_mult, out_shift, out_zp, act_min, act_max);
    }
    return QNN_OK;
}
