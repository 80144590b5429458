#include "gradient.h"
#include "mac.h"

#define GATHER_MAX 32  // bytes of a window gathered on the stack

// The window's taps in order (ky, kx, channel) into `taps` bytes of window, in_zp where a tap lies
// outside the image (or past the filter's taps): rows ky_lo.. ky_lo + rows - 1 of the window at
// xw, each `inside` bytes from `skip` on. A window inside the image fills only the padding.
static void gather_window(int8_t *window, size_t taps, const int8_t *xw, const qnn_mac_t *m, int32_t ky_lo,
                          int32_t rows, int32_t skip, int32_t inside) {
    int whole = (size_t)rows * m->w_row == m->filter_step && (size_t)inside == m->w_row;
    for (size_t i = whole ? m->filter_step : 0; i < taps; i++) {
        window[i] = (int8_t)m->in_zp;
    }
    int8_t *row = window + (size_t)ky_lo * m->w_row + skip;
    for (int32_t r = 0; r < rows; r++, row += m->w_row, xw += m->x_row) {
        for (int32_t i = 0; i < inside; i++) {
            row[i] = xw[i];
        }
    }
}

static int conv(qnn_s8_t out, qnn_cs8_t x, qnn_cs8_t w, qnn_cs32_t bias, qnn_cs32_t multiplier,
                qnn_cs32_t shift, qnn_cs32_t params, qnn_s8_t scratch, int depthwise) {
    if (params.n != QNN_CONV_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    const int32_t *p = params.p;
    for (int i = 0; i < 11; i++) {  // batch .. stride_w
        if (p[i] < 1) {
            return QNN_ERR_PARAMS;
        }
    }
    for (int i = 13; i < 17; i++) {  // in_zp .. act_max
        if (p[i] < -128 || p[i] > 127) {
            return QNN_ERR_PARAMS;
        }
    }
    int32_t batch = p[0], in_h = p[1], in_w = p[2], in_c = p[3], out_h = p[4], out_w = p[5], out_c = p[6];
    int32_t k_h = p[7], k_w = p[8], stride_h = p[9], stride_w = p[10], pad_top = p[11], pad_left = p[12];
    int32_t in_zp = p[13], out_zp = p[14], act_min = p[15], act_max = p[16];
    if (pad_top < 0 || pad_left < 0 || act_min > act_max || (depthwise && out_c != in_c)) {
        return QNN_ERR_PARAMS;
    }
    if (qnn_elements(batch, in_h, in_w, in_c) != x.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if (qnn_elements(depthwise ? 1 : out_c, k_h, k_w, in_c) != w.n) {
        return QNN_ERR_WEIGHT_LEN;
    }
    if ((size_t)out_c != bias.n || (size_t)out_c != multiplier.n || (size_t)out_c != shift.n) {
        return QNN_ERR_BIAS_LEN;
    }
    if (qnn_elements(batch, out_h, out_w, out_c) != out.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    if (!qnn_requant_params_ok(multiplier.p, shift.p, (size_t)out_c)) {
        return QNN_ERR_PARAMS;
    }
    uint64_t pixels = qnn_elements(batch, in_h, in_w, 1);
    if (!depthwise && k_h == 1 && k_w == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 && pad_left == 0
        && out_h == in_h && out_w == in_w && pixels <= INT32_MAX) {
        // Pointwise: each output pixel is its input pixel times the weights, a fully connected
        // layer over the pixels, which skips the window arithmetic.
        const int32_t fc[QNN_FC_NPARAMS] = {(int32_t)pixels, in_c, out_c, in_zp, out_zp, act_min, act_max};
        return qnn_fully_connected_s8(out, x, w, bias, multiplier, shift, (qnn_cs32_t){fc, QNN_FC_NPARAMS}, scratch);
    }
    size_t in_row = (size_t)in_w * in_c, k_row = (size_t)k_w * in_c, window_taps = (size_t)k_h * k_row;
    // A window of few taps (a first layer's one or three input channels) is gathered into one
    // run, its taps outside the image equal to in_zp (they add nothing): each group of output
    // channels then makes one pass over it, where a pass per window row cost more than its 3
    // taps. On the DSP cores the run is padded to whole words (in_zp again), and so are the
    // widened weights (zeros): their loop takes four taps a step. Not on the Cortex-M0, whose
    // assembly runs the rows at 14 instructions each, less than the byte copy.
    int8_t window[GATHER_MAX];
#if defined(__ARM_ARCH_6M__)
    int gather = 0;
#else
    int gather = !depthwise && k_h > 1 && window_taps <= GATHER_MAX;
#endif
#if defined(__ARM_FEATURE_DSP)
    size_t gathered = gather ? (window_taps + 3) & ~(size_t)3 : 0;
#else
    size_t gathered = gather ? window_taps : 0;
#endif
    // A window row's taps are contiguous in NHWC input and weights; conv2d's filters are whole
    // OHWI blocks, depthwise filter c is element c of every tap.
    qnn_mac_t m = {
        .bias = bias.p, .multiplier = multiplier.p, .shift = shift.p,
        .filter_step = window_taps, .x_row = in_row, .w_row = k_row, .out_c = out_c,
        .in_zp = in_zp, .out_zp = out_zp, .act_min = act_min, .act_max = act_max,
        .wide_step = gather ? gathered : window_taps,
    };
    qnn_outputs_t requant;
    m.requant = &requant;
    // Output channels in passes over the pixels, as many at a time as the scratch holds widened.
    int32_t *wide = NULL;
    int32_t channels = depthwise ? out_c
                     : qnn_wide_channels(scratch, m.wide_step, gather ? gathered : (size_t)in_c, out_c, &wide);
    // Without widened weights, the gathered run need not be padded.
    size_t run = wide ? gathered : window_taps;
    // The output columns whose windows lie wholly inside the image's width: those whose first
    // tap reads inside its first in_w - k_w + 1 columns (gradient.h's tap run). Their window is
    // the whole kernel row, their first input column stride_w on from the last one's, with no
    // qnn_window (64-bit arithmetic, libgcc calls on the Cortex-M0) a pixel.
    qnn_grad_run_t inner = qnn_grad_tap_run(0, in_w - k_w + 1, out_w, stride_w, pad_left);
    if (gather) {
        // Every gathered window is one run of the whole filter.
        m.w = w.p, m.wide = wide, m.rows = 1, m.run = run;
    }
    for (m.c_begin = 0; m.c_begin < out_c; m.c_begin = m.c_end) {
        qnn_start_pass(&m, channels, wide, w.p);
        int8_t *o = out.p;
        for (int32_t b = 0; b < batch; b++) {
            for (int32_t oy = 0; oy < out_h; oy++, o += (size_t)out_w * out_c) {
                int32_t ky_lo, ky_hi;
                int32_t iy = qnn_window(oy, stride_h, pad_top, k_h, in_h, &ky_lo, &ky_hi);
                const int8_t *x_row = x.p + ((size_t)b * in_h + iy) * in_row;
                if (!gather) {
                    m.rows = ky_hi - ky_lo;
                }
                for (int32_t ox = 0; ox < out_w; ox++) {
                    int32_t kx_lo = 0, kx_hi = k_w, ix, count = 1;
                    if (ox == inner.first && inner.count > 0) {
                        // The pixels whose window spans the kernel row, back to back.
                        ix = inner.at, count = inner.count;
                    } else {
                        ix = qnn_window(ox, stride_w, pad_left, k_w, in_w, &kx_lo, &kx_hi);
                    }
                    // Only the taps inside the image: padding equals in_zp and adds nothing.
                    const int8_t *xw = x_row + (size_t)ix * in_c;
                    size_t x_step = (size_t)stride_w * in_c;
                    int8_t *op = o + (size_t)ox * out_c;
                    if (gather) {
                        for (int32_t i = 0; i < count; i++, xw += x_step, op += out_c) {
                            gather_window(window, run, xw, &m, ky_lo, ky_hi - ky_lo, kx_lo * in_c,
                                          (kx_hi - kx_lo) * in_c);
                            // The widened groups' path; without them, the call between costs
                            // the Cortex-M3's first layer 2%.
                            if (wide) {
                                qnn_mac_pixels(op, 0, window, 0, 1, &m);
                            } else {
                                qnn_mac_pixel(op, window, &m);
                            }
                        }
                    } else {
                        size_t first_tap = ((size_t)ky_lo * k_w + kx_lo) * in_c;
                        m.w = w.p + first_tap;
                        m.wide = wide ? wide + QNN_SCRATCH_PER_WEIGHT * first_tap : NULL;
                        if (depthwise) {
                            m.run = (size_t)(kx_hi - kx_lo);
                            for (int32_t i = 0; i < count; i++, xw += x_step, op += out_c) {
                                qnn_mac_depthwise_pixel(op, xw, &m);
                            }
                        } else {
                            m.run = (size_t)(kx_hi - kx_lo) * in_c;
                            qnn_mac_pixels(op, (size_t)out_c, xw, x_step, count, &m);
                        }
                    }
                    ox += count - 1;
                }
            }
        }
    }
    return QNN_OK;
}

int qnn_conv2d_s8(qnn_s8_t out, qnn_cs8_t x, qnn_cs8_t w, qnn_cs32_t bias,
                  qnn_cs32_t multiplier, qnn_cs32_t shift, qnn_cs32_t params, qnn_s8_t scratch) {
    return conv(out, x, w, bias, multiplier, shift, params, scratch, 0);
}

int qnn_depthwise_conv2d_s8(qnn_s8_t out, qnn_cs8_t x, qnn_cs8_t w, qnn_cs32_t bias,
                            qnn_cs32_t multiplier, qnn_cs32_t shift, qnn_cs32_t params) {
    return conv(out, x, w, bias, multiplier, shift, params, (qnn_s8_t){NULL, 0}, 1);
}
