#include "qnn.h"

int qnn_argmax_s8(qnn_s32_t out, qnn_cs8_t x, qnn_cs32_t params) {
    if (params.n != QNN_ARGMAX_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t batch = params.p[0], classes = params.p[1];
    if (batch < 1 || classes < 1) {
        return QNN_ERR_PARAMS;
    }
    if ((uint64_t)batch * (uint64_t)classes != x.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if ((size_t)batch != out.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    for (int32_t b = 0; b < batch; b++) {
        const int8_t *row = x.p + (size_t)b * classes;
        int32_t best = 0;
        for (int32_t i = 1; i < classes; i++) {
            best = row[i] > row[best] ? i : best;  // strictly greater: ties keep the first index
        }
        out.p[b] = best;
    }
    return QNN_OK;
}
