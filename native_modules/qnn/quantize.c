// int32 values (accumulated gradients) to int8 at the smallest power-of-two scale that holds
// them: the dynamic scale lets tiny and huge gradients both keep 7 bits.
#include "qnn.h"
#include "xorshift.h"

int qnn_quantize_s8(qnn_s8_t out, qnn_cs32_t acc, qnn_cs32_t params) {
    if (params.n != QNN_QUANTIZE_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t count = params.p[0], stochastic = params.p[1], seed = params.p[2];
    if (count < 1 || (stochastic != 0 && stochastic != 1) || !qnn_seed_ok(seed)) {
        return QNN_ERR_PARAMS;
    }
    if ((size_t)count != acc.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if ((size_t)count != out.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    uint32_t max_abs = 0;
    for (size_t i = 0; i < acc.n; i++) {
        uint32_t a = acc.p[i] < 0 ? 0u - (uint32_t)acc.p[i] : (uint32_t)acc.p[i];
        max_abs = a > max_abs ? a : max_abs;
    }
    // max_abs <= 2^31 < 127 * 2^25, so s <= 25; and |acc| <= 127 * 2^s keeps either rounding
    // within [-127, 127].
    int s = 0;
    while ((uint64_t)max_abs > (uint64_t)127 << s) {
        s++;
    }
    uint32_t state = qnn_xorshift_start(seed);
    for (size_t i = 0; i < acc.n; i++) {
        out.p[i] = (int8_t)qnn_round_shift(acc.p[i], s, stochastic ? &state : NULL);
    }
    return s;
}
