// Fully connected gradients: one row of the result per qnn_grad_sum call, the batch (weight
// gradient) or the output features (input gradient) as the reduction.
#include "gradient.h"

int qnn_fc_weight_grad(qnn_s32_t gw, qnn_cs8_t x, qnn_cany_t g, qnn_cs32_t params) {
    if (params.n != QNN_FC_WEIGHT_GRAD_NPARAMS && params.n != QNN_FC_WEIGHT_GRAD_NPARAMS + 2) {
        return QNN_ERR_PARAMS;
    }
    int32_t batch = params.p[0], in_n = params.p[1], out_n = params.p[2], in_zp = params.p[3];
    int32_t first = 0, rows = out_n;  // the output features gw holds: all, or a range
    if (params.n > QNN_FC_WEIGHT_GRAD_NPARAMS) {
        first = params.p[4], rows = params.p[5];
    }
    if (batch < 1 || in_n < 1 || out_n < 1 || in_zp < -128 || in_zp > 127 || !qnn_grad_size_ok(g.size)
        || first < 0 || rows < 1 || rows > out_n - first) {
        return QNN_ERR_PARAMS;
    }
    if ((uint64_t)batch * (uint64_t)in_n != x.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if ((uint64_t)batch * (uint64_t)out_n != g.n) {
        return QNN_ERR_AUX_LEN;
    }
    if ((uint64_t)rows * (uint64_t)in_n != gw.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    // The fast path. One sample with an int8 or int16 error gives each result one product, which
    // qnn_grad_axpy_sat saturates as it adds it, exact at any start; more need every start to
    // leave room for their sum (qnn_grad_fits).
    int one_product = batch == 1 && g.size <= 2;
    if (one_product || qnn_grad_fits(gw.p, gw.n, (uint64_t)batch, 255, g)) {
        for (int32_t b = 0; b < batch; b++) {
            for (int32_t o = first; o < first + rows; o++) {
                int32_t e = qnn_grad_at(g, (size_t)b * out_n + o);
                int32_t *row = gw.p + (size_t)(o - first) * in_n;
                const int8_t *xb = x.p + (size_t)b * in_n;
                if (e) {
                    (one_product ? qnn_grad_axpy_sat : qnn_grad_axpy)(row, xb, in_zp, e, (size_t)in_n);
                }
            }
        }
        return QNN_OK;
    }
    // gw[o - first, i] for i < in_n sums x[b, i] * g[b, o] over b.
    qnn_grad_sum_t s = {
        .a = x.p, .a_zp = in_zp, .a_col = 1, .a_step = {0, 0, in_n},
        .g = g.p, .g_size = g.size, .g_step = {0, 0, out_n},
        .n = {1, 1, (size_t)batch},
    };
    for (int32_t o = first; o < first + rows; o++) {
        s.g_at = o;
        qnn_grad_sum(gw.p + (size_t)(o - first) * in_n, (size_t)in_n, 1, &s);
    }
    return QNN_OK;
}

int qnn_fc_input_grad(qnn_s32_t gx, qnn_cs8_t w, qnn_cany_t g, qnn_cs32_t params) {
    if (params.n != QNN_FC_INPUT_GRAD_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t batch = params.p[0], in_n = params.p[1], out_n = params.p[2];
    if (batch < 1 || in_n < 1 || out_n < 1 || !qnn_grad_size_ok(g.size)) {
        return QNN_ERR_PARAMS;
    }
    if ((uint64_t)out_n * (uint64_t)in_n != w.n) {
        return QNN_ERR_WEIGHT_LEN;
    }
    if ((uint64_t)batch * (uint64_t)out_n != g.n) {
        return QNN_ERR_AUX_LEN;
    }
    if ((uint64_t)batch * (uint64_t)in_n != gx.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    if (qnn_grad_fits(NULL, 0, (uint64_t)out_n, 128, g)) {
        for (size_t i = 0; i < gx.n; i++) {
            gx.p[i] = 0;
        }
        for (int32_t b = 0; b < batch; b++) {
            for (int32_t o = 0; o < out_n; o++) {
                int32_t e = qnn_grad_at(g, (size_t)b * out_n + o);
                if (e) {
                    qnn_grad_axpy(gx.p + (size_t)b * in_n, w.p + (size_t)o * in_n, 0, e, (size_t)in_n);
                }
            }
        }
        return QNN_OK;
    }
    // gx[b, i] for i < in_n sums w[o, i] * g[b, o] over o.
    qnn_grad_sum_t s = {
        .a = w.p, .a_col = 1, .a_step = {0, 0, in_n},
        .g = g.p, .g_size = g.size, .g_step = {0, 0, 1},
        .n = {1, 1, (size_t)out_n},
    };
    for (int32_t b = 0; b < batch; b++) {
        s.g_at = (ptrdiff_t)b * out_n;
        qnn_grad_sum(gx.p + (size_t)b * in_n, (size_t)in_n, 0, &s);
    }
    return QNN_OK;
}
