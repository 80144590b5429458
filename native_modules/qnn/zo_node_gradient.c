// Node perturbation's gradient estimate, a block of nodes at a time: sum_q coeffs[q, b] * u_q,b
// regenerated from the queries' seeds and masked where the output was clamped, so a trainer
// holds a step's seeds and coefficients, never an estimate as large as the layer's output. With
// a period below the node count, u has `period` entries that repeat: node i takes entry
// i mod period, which is how a perturbation of a global average pool's output (one entry per
// channel) reaches every position of the layer before the pool.
// Specification: device/mcutrain/reference/zo_node_gradient.py.
#include "gradient.h"
#include "xorshift.h"
#include "zo_sum.h"

// Each query's stream at entry `entry` of its Rademacher vector: bits[q] holds the 32 entries of
// its block (entry / 32), states[q] the state that gives the next block. The queries' seeds are
// `step` apart.
static void streams_at(uint32_t *states, uint32_t *bits, const int32_t *seeds, size_t queries, size_t step,
                       int32_t entry) {
    for (size_t q = 0; q < queries; q++) {
        states[q] = qnn_xorshift_start(seeds[q * step]);
        for (int32_t k = entry >> 5; k > 0; k--) {
            qnn_xorshift_next(&states[q]);
        }
        bits[q] = qnn_xorshift_next(&states[q]);
    }
}

int qnn_zo_node_gradient(qnn_s32_t g, qnn_cs8_t y, qnn_cs32_t seeds, qnn_cs32_t coeffs, qnn_cs32_t params) {
    if (params.n != QNN_ZO_NODE_GRADIENT_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t batch = params.p[0], nodes = params.p[1], first = params.p[2];
    int32_t act_min = params.p[3], act_max = params.p[4], period = params.p[5];
    if (batch < 1 || nodes < 1 || first < 0 || act_min < -128 || act_max > 127 || act_min > act_max ||
        period < 1 || period > nodes || nodes % period != 0) {
        return QNN_ERR_PARAMS;
    }
    size_t count = g.n / (size_t)batch;
    if (count < 1 || g.n != count * (size_t)batch || (int64_t)count > (int64_t)nodes - first) {
        return QNN_ERR_OUTPUT_LEN;
    }
    if ((uint64_t)y.n != (uint64_t)batch * (uint64_t)nodes) {
        return QNN_ERR_INPUT_LEN;
    }
    size_t queries = seeds.n / (size_t)batch;
    if (queries < 1 || queries > QNN_ZO_MAX_QUERIES || seeds.n != queries * (size_t)batch || coeffs.n != seeds.n) {
        return QNN_ERR_AUX_LEN;
    }
    for (size_t k = 0; k < seeds.n; k++) {
        if (!qnn_seed_ok(seeds.p[k])) {
            return QNN_ERR_PARAMS;
        }
    }
    // One stream per query, advanced in step with the nodes (streams_at).
    uint32_t states[QNN_ZO_MAX_QUERIES], bits[QNN_ZO_MAX_QUERIES];
    int32_t sample_coeffs[QNN_ZO_MAX_QUERIES];
    for (int32_t b = 0; b < batch; b++) {
        int32_t entry = first % period;
        for (size_t q = 0; q < queries; q++) {
            sample_coeffs[q] = coeffs.p[q * (size_t)batch + (size_t)b];
        }
        streams_at(states, bits, seeds.p + b, queries, (size_t)batch, entry);
        int narrow = qnn_signed_sums_narrow(sample_coeffs, queries);
        const int8_t *out = y.p + (size_t)b * (size_t)nodes + (size_t)first;
        int32_t *dst = g.p + (size_t)b * count;
        for (size_t i = 0; i < count; i++) {
            int64_t total = qnn_signed_sum(bits, sample_coeffs, queries, entry & 31, narrow);
            // An output at a bound may have been clamped there: its gradient does not flow back.
            dst[i] = out[i] <= act_min || out[i] >= act_max ? 0 : qnn_grad_saturate(total);
            if (++entry == period) {
                entry = 0;
                streams_at(states, bits, seeds.p + b, queries, (size_t)batch, entry);
            } else if (entry % 32 == 0) {
                for (size_t q = 0; q < queries; q++) {
                    bits[q] = qnn_xorshift_next(&states[q]);
                }
            }
        }
    }
    return QNN_OK;
}
