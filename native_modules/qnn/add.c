#include "mac.h"

#define BLOCK 32  // sums requantized by one call of the output loop

// Each input's rescaling of its 256 values, looked up where the scratch holds both tables.
static int32_t *tables(qnn_s8_t scratch) {
    size_t words;
    int32_t *table = qnn_scratch_words(scratch, &words);
    return words >= QNN_ADD_SCRATCH / 4 ? table : NULL;
}

int qnn_add_s8(qnn_s8_t out, qnn_cs8_t a, qnn_cs8_t b, qnn_cs32_t params, qnn_s8_t scratch) {
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
    int32_t *table = tables(scratch);
    if (table) {
        for (int32_t v = -128; v < 128; v++) {
            table[v + 128] = qnn_requantize_shifted(v - a_zp, left_shift, a_mult, a_shift);
            table[v + 384] = qnn_requantize_shifted(v - b_zp, left_shift, b_mult, b_shift);
        }
    }
    // The sums a block at a time through the cores' output loop, which takes a multiplier and a
    // shift per output: the same ones BLOCK times.
    uint32_t sums[BLOCK];
    int32_t mult[BLOCK], shift[BLOCK];
    for (int j = 0; j < BLOCK; j++) {
        mult[j] = out_mult, shift[j] = out_shift;
    }
    for (int32_t first = 0; first < count; first += BLOCK) {
        int n = count - first < BLOCK ? (int)(count - first) : BLOCK;
        const int8_t *x = a.p + first, *y = b.p + first;
        for (int j = 0; j < n; j++) {
            int64_t sum = table ? (int64_t)table[x[j] + 128] + table[y[j] + 384]
                                : (int64_t)qnn_requantize_shifted(x[j] - a_zp, left_shift, a_mult, a_shift)
                                  + qnn_requantize_shifted(y[j] - b_zp, left_shift, b_mult, b_shift);
            sums[j] = (uint32_t)(int32_t)(sum > INT32_MAX ? INT32_MAX : (sum < INT32_MIN ? INT32_MIN : sum));
        }
        qnn_outputs(out.p + first, sums, mult, shift, n, out_zp, act_min, act_max);
    }
    return QNN_OK;
}
