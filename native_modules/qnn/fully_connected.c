#include "mac.h"

int qnn_fully_connected_s8(qnn_s8_t out, qnn_cs8_t x, qnn_cs8_t w, qnn_cs32_t bias,
                           qnn_cs32_t multiplier, qnn_cs32_t shift, qnn_cs32_t params, qnn_s8_t scratch) {
    if (params.n != QNN_FC_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t batch = params.p[0], in_n = params.p[1], out_n = params.p[2];
    int32_t in_zp = params.p[3], out_zp = params.p[4], act_min = params.p[5], act_max = params.p[6];
    if (batch < 1 || in_n < 1 || out_n < 1 || in_zp < -128 || in_zp > 127 || out_zp < -128 || out_zp > 127
        || act_min < -128 || act_max > 127 || act_min > act_max) {
        return QNN_ERR_PARAMS;
    }
    if ((uint64_t)batch * (uint64_t)in_n != x.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if ((uint64_t)out_n * (uint64_t)in_n != w.n) {
        return QNN_ERR_WEIGHT_LEN;
    }
    if ((size_t)out_n != bias.n || (size_t)out_n != multiplier.n || (size_t)out_n != shift.n) {
        return QNN_ERR_BIAS_LEN;
    }
    if ((uint64_t)batch * (uint64_t)out_n != out.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    if (!qnn_requant_params_ok(multiplier.p, shift.p, (size_t)out_n)) {
        return QNN_ERR_PARAMS;
    }
    // Each row of the batch is one output pixel of a 1x1 convolution: one run of in_n taps; output
    // channels in passes over the rows, as many at a time as the scratch holds widened.
    qnn_mac_t m = {
        .w = w.p, .bias = bias.p, .multiplier = multiplier.p, .shift = shift.p,
        .filter_step = (size_t)in_n, .wide_step = (size_t)in_n, .run = (size_t)in_n, .rows = 1, .out_c = out_n,
        .in_zp = in_zp, .out_zp = out_zp, .act_min = act_min, .act_max = act_max,
    };
    qnn_outputs_t requant;
    m.requant = &requant;
    int32_t *wide;
    int32_t channels = qnn_wide_channels(scratch, (size_t)in_n, (size_t)in_n, out_n, &wide);
    m.wide = wide;
    for (m.c_begin = 0; m.c_begin < out_n; m.c_begin = m.c_end) {
        qnn_start_pass(&m, channels, wide, w.p);
        qnn_mac_pixels(out.p, (size_t)out_n, x.p, (size_t)in_n, batch, &m);
    }
    return QNN_OK;
}
