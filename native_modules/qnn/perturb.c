// Rademacher perturbation of a tensor from a seed and its exact undo: the queries of a
// zeroth-order (SPSA) gradient estimate. u is regenerated from the seed each time and never stored.
#include "qnn.h"
#include "xorshift.h"

// The checks perturb and unperturb share.
static int perturbation_status(qnn_any_t t, size_t mask_bytes, int32_t seed, int32_t sigma, int32_t sign) {
    if ((t.size != 1 && t.size != 4) || !qnn_seed_ok(seed) || sigma < 1 || (t.size == 1 && sigma > 127)
        || (sign != 1 && sign != -1)) {
        return QNN_ERR_PARAMS;
    }
    // perturb returns a count of elements as an int.
    if (t.n > (size_t)INT32_MAX) {
        return QNN_ERR_INPUT_LEN;
    }
    if (mask_bytes < t.n / 8 + (t.n % 8 != 0)) {
        return QNN_ERR_AUX_LEN;
    }
    return QNN_OK;
}

// t[i] + d as the exact sum when it stays within t's type, else 0 (the element is left alone).
// 32-bit arithmetic: a core without 64-bit instructions pays for every 64-bit add and compare.
static int add_within(qnn_any_t t, size_t i, int32_t d, int32_t *sum) {
    if (t.size == 1) {
        *sum = ((int8_t *)t.p)[i] + d;  // |d| <= 127 for int8 tensors
        return *sum >= INT8_MIN && *sum <= INT8_MAX;
    }
    return !__builtin_add_overflow(((int32_t *)t.p)[i], d, sum);
}

// Stores the low bits of v: unperturb wraps like the type if t changed since perturb.
static void store(qnn_any_t t, size_t i, uint32_t v) {
    if (t.size == 1) {
        ((int8_t *)t.p)[i] = (int8_t)(uint8_t)v;
    } else {
        ((int32_t *)t.p)[i] = (int32_t)v;
    }
}

static uint32_t load(qnn_any_t t, size_t i) {
    return t.size == 1 ? (uint32_t)((int8_t *)t.p)[i] : (uint32_t)((int32_t *)t.p)[i];
}

int qnn_perturb(qnn_any_t t, qnn_s8_t mask, int32_t seed, int32_t sigma, int32_t sign) {
    int status = perturbation_status(t, mask.n, seed, sigma, sign);
    if (status != QNN_OK) {
        return status;
    }
    uint8_t *bytes = (uint8_t *)mask.p;
    int32_t step = sign * sigma;  // sigma >= 1, so -sigma fits too
    qnn_rademacher_t u = qnn_rademacher_start(seed);
    int32_t left_alone = 0;
    uint32_t bits = 0;
    for (size_t i = 0; i < t.n; i++) {
        int32_t v;
        if (add_within(t, i, qnn_rademacher_next(&u) ? step : -step, &v)) {
            store(t, i, (uint32_t)v);
        } else {
            bits |= 1u << (i & 7);
            left_alone++;
        }
        if ((i & 7) == 7 || i + 1 == t.n) {
            // The last byte keeps its bits past n.
            uint32_t ours = (2u << (i & 7)) - 1;
            bytes[i >> 3] = (uint8_t)((bytes[i >> 3] & ~ours) | bits);
            bits = 0;
        }
    }
    return left_alone;
}

int qnn_unperturb(qnn_any_t t, qnn_cs8_t mask, int32_t seed, int32_t sigma, int32_t sign) {
    int status = perturbation_status(t, mask.n, seed, sigma, sign);
    if (status != QNN_OK) {
        return status;
    }
    const uint8_t *bytes = (const uint8_t *)mask.p;
    uint32_t step = (uint32_t)(sign * sigma);
    qnn_rademacher_t u = qnn_rademacher_start(seed);
    for (size_t i = 0; i < t.n; i++) {
        uint32_t d = qnn_rademacher_next(&u) ? step : 0u - step;
        if (!((bytes[i >> 3] >> (i & 7)) & 1u)) {
            store(t, i, load(t, i) - d);
        }
    }
    return QNN_OK;
}
