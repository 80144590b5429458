// The zeroth-order update: the gradient estimate sum_q coeffs[q] * u_q is never stored; its
// elements are regenerated from the queries' seeds as the update walks the tensor.
#include "gradient.h"
#include "update.h"
#include "zo_sum.h"

#define QNN_GOLDEN 0x9E3779B9u

int qnn_seeds(qnn_s32_t out, qnn_s32_t state) {
    if (state.n != 1) {
        return QNN_ERR_AUX_LEN;
    }
    uint32_t x = (uint32_t)state.p[0] ^ QNN_GOLDEN;
    if (x == 0) {
        return QNN_ERR_PARAMS;
    }
    for (size_t i = 0; i < out.n; i++) {
        out.p[i] = (int32_t)(qnn_xorshift_next(&x) >> 2);
    }
    state.p[0] = (int32_t)(x ^ QNN_GOLDEN);
    return QNN_OK;
}

int qnn_zo_update(qnn_any_t w, qnn_cs32_t seeds, qnn_cs32_t coeffs, qnn_cs32_t step_multiplier,
                  qnn_cs32_t step_shift, qnn_cs32_t params) {
    qnn_update_t u;
    int status = qnn_update_start(&u, w, params, 0);
    if (status != QNN_OK) {
        return status;
    }
    if (seeds.n < 1 || seeds.n > QNN_ZO_MAX_QUERIES || coeffs.n != seeds.n) {
        return QNN_ERR_AUX_LEN;
    }
    for (size_t q = 0; q < seeds.n; q++) {
        if (!qnn_seed_ok(seeds.p[q])) {
            return QNN_ERR_PARAMS;
        }
    }
    if ((status = qnn_update_steps_ok(&u, step_multiplier, step_shift)) != QNN_OK) {
        return status;
    }
    // One stream per query, advanced in step with the elements: 32 entries per output, a block of
    // 32 elements' sums applied at a time.
    uint32_t states[QNN_ZO_MAX_QUERIES], bits[QNN_ZO_MAX_QUERIES];
    int32_t sums[32];
    for (size_t q = 0; q < seeds.n; q++) {
        states[q] = qnn_xorshift_start(seeds.p[q]);
    }
    int narrow = qnn_signed_sums_narrow(coeffs.p, coeffs.n);
    for (int32_t i = 0; i < u.count; i += 32) {
        int32_t n = u.count - i < 32 ? u.count - i : 32;
        for (size_t q = 0; q < seeds.n; q++) {
            bits[q] = qnn_xorshift_next(&states[q]);
        }
        for (int32_t k = 0; k < n; k++) {
            sums[k] = qnn_grad_saturate(qnn_signed_sum(bits, coeffs.p, coeffs.n, k, narrow));
        }
        qnn_update_apply(&u, w, i, n, sums, step_multiplier.p, step_shift.p);
    }
    return QNN_OK;
}
