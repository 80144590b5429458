// What sgd_update and zo_update share: a params block [count, channels, inner, stochastic, seed]
// where element i takes the per-channel step of channel (i / inner) % channels, and the update
// itself (update.c; int8 weights stay symmetric in [-127, 127]). sgd_update takes
// an optional sixth entry, first >= 0: w is a part of a larger tensor that starts at its element
// `first`, and the rounding stream starts at its output `first`, so that updating a tensor part
// by part rounds every element as updating it whole does.
#ifndef QNN_UPDATE_H
#define QNN_UPDATE_H

#include "qnn.h"
#include "xorshift.h"

#define QNN_UPDATE_NPARAMS 5

typedef struct {
    int32_t count, channels, inner;
    uint32_t rounding;  // the stochastic-rounding stream
    uint32_t *state;    // &rounding, or NULL for rhaz rounding
    int32_t channel, within;  // the next element's channel, and how far into its run it lies
} qnn_update_t;

// Checks the params block and the tensor's type and length.
static inline int qnn_update_start(qnn_update_t *u, qnn_any_t w, qnn_cs32_t params, int takes_first) {
    if (params.n != QNN_UPDATE_NPARAMS && (params.n != QNN_UPDATE_NPARAMS + 1 || !takes_first)) {
        return QNN_ERR_PARAMS;
    }
    int32_t stochastic = params.p[3];
    int32_t first = params.n > QNN_UPDATE_NPARAMS ? params.p[QNN_UPDATE_NPARAMS] : 0;
    u->count = params.p[0];
    u->channels = params.p[1];
    u->inner = params.p[2];
    if (u->count < 1 || u->channels < 1 || u->inner < 1 || (stochastic != 0 && stochastic != 1)
        || !qnn_seed_ok(params.p[4]) || first < 0 || (w.size != 1 && w.size != 4)) {
        return QNN_ERR_PARAMS;
    }
    if (w.n != (size_t)u->count) {
        return QNN_ERR_WEIGHT_LEN;
    }
    u->rounding = qnn_xorshift_start(params.p[4]);
    u->state = stochastic ? &u->rounding : NULL;
    u->channel = u->within = 0;
    for (int32_t i = 0; stochastic && i < first; i++) {
        qnn_xorshift_next(&u->rounding);
    }
    return QNN_OK;
}

// Checks the per-channel steps: multiplier >= 0, shift in [0, 62].
static inline int qnn_update_steps_ok(const qnn_update_t *u, qnn_cs32_t multiplier, qnn_cs32_t shift) {
    if (multiplier.n != (size_t)u->channels || shift.n != (size_t)u->channels) {
        return QNN_ERR_BIAS_LEN;
    }
    for (int32_t c = 0; c < u->channels; c++) {
        if (multiplier.p[c] < 0 || shift.p[c] < 0 || shift.p[c] > 62) {
            return QNN_ERR_PARAMS;
        }
    }
    return QNN_OK;
}

// w[i .. i + n) -= round(g[k] * multiplier[c] / 2^shift[c]) each, saturated (int8 weights in
// [-127, 127]), g[k] the gradient of element i + k and c its channel: the elements go on from the
// last ones applied, so that a tensor may be applied whole or block by block.
void qnn_update_apply(qnn_update_t *u, qnn_any_t w, int32_t i, int32_t n, const int32_t *g,
                      const int32_t *multiplier, const int32_t *shift);

#endif
