// Softmax cross-entropy of int8 logits in integers only, so that every board gets the same bits
// with or without an FPU. The fixed-point exp and log are specified, with their error bounds, in
// device/mcutrain/reference/cross_entropy.py.
#include "divide.h"
#include "qnn.h"

#define ONE_Q30 ((int64_t)1 << 30)
#define LOG2E_Q30 1549082005
#define LN2_Q30 744261118
// exp(-x) is already 0 in Q30 past 21.5 nats; the cut keeps x * LOG2E_Q30 inside int64.
#define EXP_CUT_Q16 ((int64_t)32 << 16)
#define LOG2_FRACTION_BITS 20

// 2^(-i/16) in Q30.
static const int32_t exp2_sixteenths_q30[16] = {
    1073741824, 1028218693, 984625594, 942880699, 902905651, 864625413, 827968132, 792865000,
    759250125, 727060411, 696235434, 666717336, 638450708, 611382493, 585461881, 560640218,
};

// Horner coefficients of the Taylor polynomial 1 - u + u^2/2 - u^3/6 + u^4/24, in Q30.
static const int32_t exp_taylor_q30[5] = {44739243, 178956971, 1 << 29, 1 << 30, 1 << 30};

// 2^30 * exp(-x / 2^16) for x >= 0 (Q16 nats). x * log2(e) = n + i/16 + r (Q24), and
// 2^-r = exp(-r ln 2) with r ln 2 < 0.0434, where the polynomial is within 2e-9.
static int64_t exp_neg_q30(int64_t x) {
    if (x >= EXP_CUT_Q16) {
        return 0;
    }
    int64_t y = (x * LOG2E_Q30) >> 22;
    int64_t u = ((y & 0xFFFFF) * LN2_Q30) >> 24;
    int64_t p = exp_taylor_q30[0];
    for (int j = 1; j < 5; j++) {
        p = exp_taylor_q30[j] - ((p * u) >> 30);
    }
    return ((exp2_sixteenths_q30[(y >> 20) & 15] * p) >> 30) >> (y >> 24);
}

// 2^16 * ln(s / 2^30) for s in [2^30, 2^39): the integer part of log2 from the leading bit, then
// 20 fraction bits by repeated squaring of the mantissa (m^2 >= 2 means the next bit is 1).
static int64_t log_q16(int64_t s) {
    int k = 0;
    while ((s >> (31 + k)) != 0) {
        k++;
    }
    uint64_t m = (uint64_t)s >> k;
    int64_t log2_q20 = k;
    for (int i = 0; i < LOG2_FRACTION_BITS; i++) {
        m = (m * m) >> 30;
        log2_q20 <<= 1;
        if (m >= (uint64_t)2 << 30) {
            m >>= 1;
            log2_q20 |= 1;
        }
    }
    return (log2_q20 * LN2_Q30) >> (LOG2_FRACTION_BITS + 30 - 16);
}

int qnn_cross_entropy(qnn_s32_t loss, qnn_s8_t grad, qnn_cs8_t logits, qnn_cs8_t labels, qnn_cs32_t params) {
    if (params.n != QNN_CROSS_ENTROPY_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t batch = params.p[0], classes = params.p[1], logit_zp = params.p[2], scale_q16 = params.p[3];
    if (batch < 1 || classes < 2 || classes > 256 || logit_zp < -128 || logit_zp > 127 || scale_q16 < 1) {
        return QNN_ERR_PARAMS;
    }
    uint64_t count = (uint64_t)batch * (uint64_t)classes;
    if (count != logits.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if ((size_t)batch != labels.n) {
        return QNN_ERR_AUX_LEN;
    }
    // An empty grad: the losses alone, all a zeroth-order query reads.
    if ((size_t)batch != loss.n || (grad.n != 0 && count != grad.n)) {
        return QNN_ERR_OUTPUT_LEN;
    }
    for (int32_t b = 0; b < batch; b++) {
        if ((uint8_t)labels.p[b] >= classes) {
            return QNN_ERR_PARAMS;
        }
    }
    // Softmax only sees logit differences, so the zero point cancels: x = (top - q) * scale is
    // the Q16 distance of each logit below the largest.
    int64_t total = 0;
    for (int32_t b = 0; b < batch; b++) {
        const int8_t *q = logits.p + (size_t)b * classes;
        int8_t *g = grad.p + (size_t)b * classes;
        int32_t label = (uint8_t)labels.p[b], top = q[0];
        for (int32_t c = 1; c < classes; c++) {
            top = q[c] > top ? q[c] : top;
        }
        int64_t sum = 0;  // in [2^30, 256 * 2^30]: the top logit adds exactly 2^30
        for (int32_t c = 0; c < classes; c++) {
            sum += exp_neg_q30((int64_t)(top - q[c]) * scale_q16);
        }
        int64_t l = (int64_t)(top - q[label]) * scale_q16 + log_q16(sum);
        loss.p[b] = (int32_t)(l > INT32_MAX ? INT32_MAX : l);
        total += loss.p[b];  // every loss is >= 0: the mean below divides unsigned
        // 127 * (e / sum - one_hot), rounded half away from zero.
        for (int32_t c = 0; grad.n != 0 && c < classes; c++) {
            int64_t e = exp_neg_q30((int64_t)(top - q[c]) * scale_q16);
            uint64_t num = (uint64_t)(127 * (c == label ? sum - e : e));
            uint64_t unused;
            int32_t magnitude = (int32_t)qnn_divide_u64(2 * num + (uint64_t)sum, 2 * (uint64_t)sum, &unused);
            g[c] = (int8_t)(c == label ? -magnitude : magnitude);
        }
    }
    uint64_t unused;
    return (int)qnn_divide_u64((uint64_t)total, (uint64_t)batch, &unused);
}
