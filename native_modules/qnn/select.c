// Choosing what to train: gradient norms per row (output channel), then the rows with the
// largest ones, so that a sparse update spends the step on the channels that matter most.
#include "qnn.h"

int qnn_row_norms(qnn_s32_t out, qnn_cany_t g, qnn_cs32_t params) {
    if (params.n != QNN_ROW_NORMS_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t rows = params.p[0], row_length = params.p[1], shift = params.p[2];
    if (rows < 1 || row_length < 1 || shift < 0 || shift > 63 || (g.size != 1 && g.size != 2 && g.size != 4)) {
        return QNN_ERR_PARAMS;
    }
    if ((uint64_t)rows * (uint64_t)row_length != g.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if ((size_t)rows != out.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    for (int32_t r = 0; r < rows; r++) {
        uint64_t sum = 0;
        for (size_t i = (size_t)r * row_length, end = i + row_length; i < end; i++) {
            int64_t v = g.size == 1 ? ((const int8_t *)g.p)[i]
                      : g.size == 2 ? ((const int16_t *)g.p)[i] : ((const int32_t *)g.p)[i];
            uint64_t square = (uint64_t)(v * v);
            sum = sum + square < sum ? UINT64_MAX : sum + square;
        }
        sum >>= shift;
        out.p[r] = sum > INT32_MAX ? INT32_MAX : (int32_t)sum;
    }
    return QNN_OK;
}

int qnn_topk(qnn_s32_t out, qnn_cs32_t scores, qnn_cs32_t params) {
    if (params.n != QNN_TOPK_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t n = params.p[0], k = params.p[1];
    if (n < 1 || k < 1 || k > n) {
        return QNN_ERR_PARAMS;
    }
    if ((size_t)n != scores.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if ((size_t)k != out.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    // out is the ranking so far. Candidates come in index order, so one that ties a ranked score
    // goes after it: ties go to the lower index.
    int32_t ranked = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t pos = ranked;
        while (pos > 0 && scores.p[out.p[pos - 1]] < scores.p[i]) {
            pos--;
        }
        if (pos == k) {
            continue;
        }
        ranked += ranked < k;
        for (int32_t j = ranked - 1; j > pos; j--) {
            out.p[j] = out.p[j - 1];
        }
        out.p[pos] = i;
    }
    return QNN_OK;
}
