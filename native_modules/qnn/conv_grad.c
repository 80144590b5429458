// conv2d and depthwise_conv2d gradients. Depthwise is conv2d without the sum over channels:
// weights [k_h, k_w, c] and the gradient's channel equal to the input's.
#include "gradient.h"
#include "mac.h"

static int conv_params(qnn_grad_geom_t *s, qnn_cs32_t params, size_t count, int depthwise, qnn_cany_t g) {
    return params.n == count && qnn_grad_geometry(s, params.p, 0) && (!depthwise || s->out_c == s->in_c)
        && (count < 14 || (params.p[13] >= -128 && params.p[13] <= 127)) && qnn_grad_size_ok(g.size);
}

// The outputs of a tap run that lie in rows first_row .. first_row + rows - 1.
static qnn_grad_run_t within_rows(qnn_grad_run_t run, int32_t stride, int32_t first_row, int32_t rows) {
    int32_t lo = run.first > first_row ? run.first : first_row;
    int32_t hi = run.first + run.count < first_row + rows ? run.first + run.count : first_row + rows;
    if (hi <= lo) {
        return (qnn_grad_run_t){lo, 0, 0};
    }
    // A run of two or more fits in the input, so the skipped taps' input offset cannot overflow.
    return (qnn_grad_run_t){lo, hi - lo, run.at + (lo - run.first) * stride};
}

// The fast path (gradient.h): output pixel by output pixel, each error times the input window
// it saw, into gw; gw's element for channel o (from first), tap (ky, kx) and input channel c is
// [o - first, ky, kx, c] (depthwise: [ky, kx, c], its error's channel c).
static void scatter_weight_grad(int32_t *gw, const int8_t *x, qnn_cany_t g, const qnn_grad_geom_t *s, int32_t zp,
                                int32_t first, int32_t channels, int32_t first_row, int32_t rows, int depthwise) {
    size_t in_row = (size_t)s->in_w * s->in_c;
    for (int32_t b = 0; b < s->batch; b++) {
        for (int32_t r = 0; r < rows; r++) {
            int32_t ky_lo, ky_hi, kx_lo, kx_hi;
            int32_t iy = qnn_window(first_row + r, s->stride_h, s->pad_top, s->k_h, s->in_h, &ky_lo, &ky_hi);
            for (int32_t ox = 0; ox < s->out_w; ox++) {
                int32_t ix = qnn_window(ox, s->stride_w, s->pad_left, s->k_w, s->in_w, &kx_lo, &kx_hi);
                size_t at = (((size_t)b * rows + r) * s->out_w + ox) * s->out_c;
                const int8_t *window = x + (((size_t)b * s->in_h + iy) * s->in_w + ix) * s->in_c;
                size_t run = (size_t)(kx_hi - kx_lo) * s->in_c;
                if (depthwise) {
                    for (int32_t ky = ky_lo; ky < ky_hi; ky++) {
                        for (int32_t kx = kx_lo; kx < kx_hi; kx++) {
                            qnn_grad_vmul(gw + ((size_t)ky * s->k_w + kx) * s->in_c,
                                          window + (size_t)(ky - ky_lo) * in_row + (size_t)(kx - kx_lo) * s->in_c,
                                          zp, g, at, (size_t)s->in_c);
                        }
                    }
                    continue;
                }
                for (int32_t o = first; o < first + channels; o++) {
                    int32_t e = qnn_grad_at(g, at + (size_t)o);
                    for (int32_t ky = ky_lo; e && ky < ky_hi; ky++) {
                        qnn_grad_axpy(gw + (((size_t)(o - first) * s->k_h + ky) * s->k_w + kx_lo) * s->in_c,
                                      window + (size_t)(ky - ky_lo) * in_row, zp, e, run);
                    }
                }
            }
        }
    }
}

// The register path (gradient.h) of a weight gradient with a dense int8 error: tap (ky, kx) of
// output channel o sums input times error over the rectangle of outputs whose tap reads inside
// the input, each input channel's sum in a register. conv2d's error is o's, one for four input
// channels (qnn_grad_dot); depthwise's is the input's own channel: with a stride of 1 along x,
// input and error step one pixel (in_c bytes) a tap alike, a depthwise window whose taps are the
// outputs, which the forward op sums (mac.c).
static void register_weight_grad(int32_t *gw, const int8_t *x, const int8_t *g, const qnn_grad_geom_t *s,
                                 int32_t zp, int32_t first, int32_t passes, int32_t first_row, int32_t rows,
                                 int depthwise) {
    size_t in_row = (size_t)s->in_w * s->in_c;
    ptrdiff_t out_row = (ptrdiff_t)s->out_w * s->out_c;
    qnn_grad_dot_t d = {.e_step = s->out_c, .e_row = out_row, .zp = zp};
    qnn_mac_t m = {.w_row = (size_t)out_row, .out_c = s->in_c, .in_zp = zp};
    for (int32_t o = first; o < first + passes; o++) {
        for (int32_t ky = 0; ky < s->k_h; ky++) {
            qnn_grad_run_t ry = within_rows(qnn_grad_tap_run(ky, s->in_h, s->out_h, s->stride_h, s->pad_top),
                                            s->stride_h, first_row, rows);
            // A run of two or more fits in the input, so stride * row cannot overflow there.
            d.rows = m.rows = ry.count;
            d.v_row = ry.count > 1 ? (ptrdiff_t)s->stride_h * (ptrdiff_t)in_row : 0;
            m.x_row = (size_t)d.v_row;
            for (int32_t kx = 0; kx < s->k_w; kx++, gw += s->in_c) {
                qnn_grad_run_t rx = qnn_grad_tap_run(kx, s->in_w, s->out_w, s->stride_w, s->pad_left);
                d.run = rx.count, m.run = (size_t)rx.count;
                d.v_step = rx.count > 1 ? (ptrdiff_t)s->stride_w * s->in_c : 1;
                for (int32_t b = 0; ry.count && rx.count && b < s->batch; b++) {
                    size_t y_at = (size_t)b * s->in_h + (size_t)ry.at;
                    size_t g_at = (size_t)b * rows + (size_t)(ry.first - first_row);
                    d.v = x + (y_at * s->in_w + (size_t)rx.at) * s->in_c;
                    d.e = m.w = g + (g_at * s->out_w + (size_t)rx.first) * s->out_c + o;  // depthwise: o = 0
                    if (depthwise) {
                        qnn_mac_depthwise_sums((uint32_t *)gw, d.v, &m, 0, s->in_c);
                    } else {
                        qnn_grad_dot(gw, s->in_c, &d);
                    }
                }
            }
        }
    }
}

// The fast path (gradient.h) of a conv2d input gradient with an int8 error: each input pixel
// sums, four input channels at a time in registers (qnn_grad_dot), the filter taps that read it
// times the errors of the outputs they make, over the output channels, one window row (ky) a call.
static void dot_input_grad(int32_t *gx, const int8_t *w, const int8_t *g, const qnn_grad_geom_t *s) {
    ptrdiff_t k_row = (ptrdiff_t)s->k_w * s->in_c, out_row = (ptrdiff_t)s->out_w * s->out_c;
    qnn_grad_dot_t d = {.v_step = k_row * s->k_h, .e_step = 1, .e_row = s->out_c, .run = s->out_c};
    for (int32_t b = 0; b < s->batch; b++) {
        for (int32_t iy = 0; iy < s->in_h; iy++) {
            qnn_grad_run_t ry = qnn_grad_window_run(iy, s->k_h, s->out_h, s->stride_h, s->pad_top);
            for (int32_t ix = 0; ix < s->in_w; ix++, gx += s->in_c) {
                qnn_grad_run_t rx = qnn_grad_window_run(ix, s->k_w, s->out_w, s->stride_w, s->pad_left);
                for (int32_t c = 0; c < s->in_c; c++) {
                    gx[c] = 0;
                }
                // The next window holds the position by a tap `stride` smaller; a run of two or
                // more fits in the kernel, so stride * row cannot overflow there.
                d.rows = rx.count, d.v_row = rx.count > 1 ? -((ptrdiff_t)s->stride_w * s->in_c) : 0;
                for (int32_t i = 0; rx.count && i < ry.count; i++) {
                    ptrdiff_t ky = ry.at - (ptrdiff_t)i * s->stride_h;
                    d.v = w + ky * k_row + (ptrdiff_t)rx.at * s->in_c;
                    d.e = g + ((ptrdiff_t)b * s->out_h + ry.first + i) * out_row + (ptrdiff_t)rx.first * s->out_c;
                    qnn_grad_dot(gx, s->in_c, &d);
                }
            }
        }
    }
}

// The register path of a depthwise input gradient at stride 1 (qnn_grad_taps), four channels at
// a time: a row of input pixels reads the taps of one range of kernel rows; their table, kx by
// kx, serves every pixel of the row, each from the pixel's own place in the error (at stride 1
// a tap's error lies at the same offset from every pixel's). A pixel at an x edge reads a run of
// the table, the taps whose kx its window holds.
static void tap_input_grad(int32_t *gx, const int8_t *w, const int8_t *g, const qnn_grad_geom_t *s) {
    int32_t table[QNN_GRAD_TAPS_MAX * QNN_GRAD_TAP_WORDS];
    int32_t c = s->in_c, out_row = s->out_w * c;
    // Pixels whose x window holds every tap: from the first that reaches back k_w - 1 outputs to
    // the last whose output is in the layer.
    int32_t full_lo = s->k_w - 1 - s->pad_left > 0 ? s->k_w - 1 - s->pad_left : 0;
    int32_t full_hi = s->out_w - s->pad_left < s->in_w ? s->out_w - s->pad_left : s->in_w;
    qnn_grad_taps_t t = {.e = g, .n = c};
    for (int32_t group = 0; group < c; group += 4) {
        int32_t j = group + 4 <= c ? group : c - 4;  // the last four channels make those left over again
        int32_t built_at = -1, built_rows = 0;
        for (int32_t b = 0; b < s->batch; b++) {
            for (int32_t iy = 0; iy < s->in_h; iy++) {
                int32_t *row = gx + ((size_t)b * s->in_h + iy) * s->in_w * c + j;
                qnn_grad_run_t ry = qnn_grad_window_run(iy, s->k_h, s->out_h, 1, s->pad_top);
                if (!ry.count) {
                    for (int32_t ix = 0; ix < s->in_w; ix++) {
                        int32_t *zero = row + (size_t)ix * c;
                        zero[0] = zero[1] = zero[2] = zero[3] = 0;
                    }
                    continue;
                }
                if (ry.at != built_at || ry.count != built_rows) {
                    int32_t *entry = table;
                    for (int32_t kx = 0; kx < s->k_w; kx++) {
                        for (int32_t ky = ry.at; ky > ry.at - ry.count; ky--, entry += QNN_GRAD_TAP_WORDS) {
                            qnn_grad_tap_entry(entry, (s->pad_top - ky) * out_row + (s->pad_left - kx) * c,
                                               w + ((size_t)ky * s->k_w + kx) * c + j);
                        }
                    }
                    built_at = ry.at, built_rows = ry.count;
                }
                ptrdiff_t at = ((ptrdiff_t)b * s->out_h + iy) * out_row + j;
                for (int32_t ix = 0; ix < s->in_w;) {
                    qnn_grad_run_t rx = {0, s->k_w, s->k_w - 1};
                    t.pixels = 1;
                    if (ix == full_lo && full_lo < full_hi) {
                        t.pixels = full_hi - full_lo;
                    } else {
                        rx = qnn_grad_window_run(ix, s->k_w, s->out_w, 1, s->pad_left);
                    }
                    t.acc = row + (size_t)ix * c;
                    if (rx.count) {
                        t.at = at + (ptrdiff_t)ix * c;
                        t.taps = table + (rx.at + 1 - rx.count) * ry.count * QNN_GRAD_TAP_WORDS;
                        t.taps_end = t.taps + rx.count * ry.count * QNN_GRAD_TAP_WORDS;
                        qnn_grad_taps(&t);
                    } else {
                        t.acc[0] = t.acc[1] = t.acc[2] = t.acc[3] = 0;
                    }
                    ix += t.pixels;
                }
            }
        }
    }
}

// The fast path (gradient.h): gx from 0, then output pixel by output pixel each error times the
// filter taps that read the input window, into the window's place in gx.
static void scatter_input_grad(int32_t *gx, size_t gx_n, const int8_t *w, qnn_cany_t g, const qnn_grad_geom_t *s,
                               int depthwise) {
    size_t in_row = (size_t)s->in_w * s->in_c;
    for (size_t i = 0; i < gx_n; i++) {
        gx[i] = 0;
    }
    for (int32_t b = 0; b < s->batch; b++) {
        for (int32_t oy = 0; oy < s->out_h; oy++) {
            int32_t ky_lo, ky_hi, kx_lo, kx_hi;
            int32_t iy = qnn_window(oy, s->stride_h, s->pad_top, s->k_h, s->in_h, &ky_lo, &ky_hi);
            for (int32_t ox = 0; ox < s->out_w; ox++) {
                int32_t ix = qnn_window(ox, s->stride_w, s->pad_left, s->k_w, s->in_w, &kx_lo, &kx_hi);
                size_t at = (((size_t)b * s->out_h + oy) * s->out_w + ox) * s->out_c;
                int32_t *window = gx + (((size_t)b * s->in_h + iy) * s->in_w + ix) * s->in_c;
                size_t run = (size_t)(kx_hi - kx_lo) * s->in_c;
                if (depthwise) {
                    for (int32_t ky = ky_lo; ky < ky_hi; ky++) {
                        for (int32_t kx = kx_lo; kx < kx_hi; kx++) {
                            qnn_grad_vmul(window + (size_t)(ky - ky_lo) * in_row + (size_t)(kx - kx_lo) * s->in_c,
                                          w + ((size_t)ky * s->k_w + kx) * s->in_c, 0, g, at, (size_t)s->in_c);
                        }
                    }
                    continue;
                }
                for (int32_t o = 0; o < s->out_c; o++) {
                    int32_t e = qnn_grad_at(g, at + (size_t)o);
                    for (int32_t ky = ky_lo; e && ky < ky_hi; ky++) {
                        qnn_grad_axpy(window + (size_t)(ky - ky_lo) * in_row,
                                      w + (((size_t)o * s->k_h + ky) * s->k_w + kx_lo) * s->in_c, 0, e, run);
                    }
                }
            }
        }
    }
}

// gw[o, ky, kx, c] += (x - in_zp) * g summed over the batch and the outputs whose tap (ky, kx)
// reads inside the input. Two more params give the output channels gw holds (first, channels;
// conv2d only); two more after them the output rows g holds (first_row, rows), so a caller can
// hand in a layer's error a block of rows at a time (depthwise then gives first 0, channels out_c).
static int weight_grad(qnn_s32_t gw, qnn_cs8_t x, qnn_cany_t g, qnn_cs32_t params, int depthwise) {
    qnn_grad_geom_t s;
    const size_t plain = QNN_CONV_WEIGHT_GRAD_NPARAMS;
    qnn_cs32_t geometry = {params.p, plain};
    if ((params.n != plain && params.n != plain + 2 + 2 && (depthwise || params.n != plain + 2))
        || !conv_params(&s, geometry, plain, depthwise, g)) {
        return QNN_ERR_PARAMS;
    }
    int32_t first = 0, channels = s.out_c, first_row = 0, rows = s.out_h;
    if (params.n > plain) {
        first = params.p[14], channels = params.p[15];
        if (first < 0 || channels < 1 || channels > s.out_c - first || (depthwise && channels != s.out_c)) {
            return QNN_ERR_PARAMS;
        }
    }
    if (params.n > plain + 2) {
        first_row = params.p[16], rows = params.p[17];
        if (first_row < 0 || rows < 1 || rows > s.out_h - first_row) {
            return QNN_ERR_PARAMS;
        }
    }
    if (qnn_elements(s.batch, s.in_h, s.in_w, s.in_c) != x.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if (qnn_elements(s.batch, rows, s.out_w, s.out_c) != g.n) {
        return QNN_ERR_AUX_LEN;
    }
    // Depthwise weights [k_h, k_w, c] sum each channel's own error: one pass, channel by column.
    int32_t passes = depthwise ? 1 : channels;
    if (qnn_elements(passes, s.k_h, s.k_w, s.in_c) != gw.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    if (qnn_grad_fits(gw.p, gw.n, (uint64_t)s.batch * (uint64_t)rows * (uint64_t)s.out_w, 255, g)) {
        if (g.size == 1 && (depthwise ? s.stride_w == 1 : s.in_c >= 4 && qnn_grad_dense(g.p, g.n))) {
            register_weight_grad(gw.p, x.p, g.p, &s, params.p[13], first, passes, first_row, rows, depthwise);
        } else {
            scatter_weight_grad(gw.p, x.p, g, &s, params.p[13], first, channels, first_row, rows, depthwise);
        }
        return QNN_OK;
    }
    ptrdiff_t in_row = (ptrdiff_t)s.in_w * s.in_c, out_row = (ptrdiff_t)s.out_w * s.out_c;
    // One sum per input channel c (contiguous in x and gw): over the batch, the y run, the x run.
    qnn_grad_sum_t sum = {
        .a = x.p, .a_zp = params.p[13], .a_col = 1, .a_step = {in_row * s.in_h, 0, 0},
        .g = g.p, .g_size = g.size, .g_col = depthwise, .g_step = {out_row * rows, out_row, s.out_c},
        .n = {(size_t)s.batch, 0, 0},
    };
    int32_t *out = gw.p;
    for (int32_t o = first; o < first + passes; o++) {
        for (int32_t ky = 0; ky < s.k_h; ky++) {
            qnn_grad_run_t ry = within_rows(qnn_grad_tap_run(ky, s.in_h, s.out_h, s.stride_h, s.pad_top),
                                            s.stride_h, first_row, rows);
            for (int32_t kx = 0; kx < s.k_w; kx++, out += s.in_c) {
                qnn_grad_run_t rx = qnn_grad_tap_run(kx, s.in_w, s.out_w, s.stride_w, s.pad_left);
                sum.n[1] = (size_t)ry.count, sum.n[2] = (size_t)rx.count;
                // A run of two or more fits in the input, so stride * row cannot overflow there.
                sum.a_step[1] = ry.count > 1 ? s.stride_h * in_row : 0;
                sum.a_step[2] = rx.count > 1 ? (ptrdiff_t)s.stride_w * s.in_c : 0;
                sum.a_at = ry.at * in_row + (ptrdiff_t)rx.at * s.in_c;
                sum.g_at = (ry.first - first_row) * out_row + (ptrdiff_t)rx.first * s.out_c + o;
                qnn_grad_sum(out, (size_t)s.in_c, 1, &sum);
            }
        }
    }
    return QNN_OK;
}

// Where tap_input_grad applies: stride 1, four channels or more, a window of at most
// QNN_GRAD_TAPS_MAX taps, and paddings smaller than the kernel, so that a tap's offset (pad - ky
// error rows and pad - kx pixels) and every pixel's place in the error are int32.
static int taps_fit(const qnn_grad_geom_t *s) {
    if (s->stride_h != 1 || s->stride_w != 1 || s->in_c < 4 || s->k_h > QNN_GRAD_TAPS_MAX || s->k_w > QNN_GRAD_TAPS_MAX
        || s->k_h * s->k_w > QNN_GRAD_TAPS_MAX || s->pad_top >= s->k_h || s->pad_left >= s->k_w) {
        return 0;
    }
    uint64_t rows = (uint64_t)s->batch * (uint64_t)s->out_h + (uint64_t)s->in_h + (uint64_t)s->k_h;
    uint64_t row = ((uint64_t)s->out_w + (uint64_t)s->in_w + (uint64_t)s->k_w) * (uint64_t)s->in_c;
    uint64_t limit = (uint64_t)1 << 31;
    return rows < limit && row < limit && rows * row < limit;
}

// gx[b, iy, ix, c] = w * g summed over the outputs whose window holds (iy, ix), by the tap that
// holds it, and over the output channels.
static int input_grad(qnn_s32_t gx, qnn_cs8_t w, qnn_cany_t g, qnn_cs32_t params, int depthwise) {
    qnn_grad_geom_t s;
    if (!conv_params(&s, params, QNN_CONV_INPUT_GRAD_NPARAMS, depthwise, g)) {
        return QNN_ERR_PARAMS;
    }
    if (qnn_elements(depthwise ? 1 : s.out_c, s.k_h, s.k_w, s.in_c) != w.n) {
        return QNN_ERR_WEIGHT_LEN;
    }
    if (qnn_elements(s.batch, s.out_h, s.out_w, s.out_c) != g.n) {
        return QNN_ERR_AUX_LEN;
    }
    if (qnn_elements(s.batch, s.in_h, s.in_w, s.in_c) != gx.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    uint64_t terms = (uint64_t)(depthwise ? 1 : s.out_c) * (uint64_t)s.k_h * (uint64_t)s.k_w;
    if (qnn_grad_fits(NULL, 0, terms, 128, g)) {
        if (g.size == 1 && (depthwise ? taps_fit(&s) : s.in_c >= 4) && qnn_grad_dense(g.p, g.n)) {
            if (depthwise) {
                tap_input_grad(gx.p, w.p, g.p, &s);
            } else {
                dot_input_grad(gx.p, w.p, g.p, &s);
            }
        } else {
            scatter_input_grad(gx.p, gx.n, w.p, g, &s, depthwise);
        }
        return QNN_OK;
    }
    ptrdiff_t k_row = (ptrdiff_t)s.k_w * s.in_c, out_row = (ptrdiff_t)s.out_w * s.out_c;
    // One sum per input channel c (contiguous in w and gx): over the y windows, the x windows
    // and the output channels; depthwise has no channel level, so the x windows go innermost.
    int ly = depthwise ? 1 : 0, lx = ly + 1;
    qnn_grad_sum_t sum = {
        .a = w.p, .a_col = 1, .g = g.p, .g_size = g.size, .g_col = depthwise, .n = {1, 1, 1},
    };
    if (!depthwise) {
        sum.n[2] = (size_t)s.out_c, sum.a_step[2] = k_row * s.k_h, sum.g_step[2] = 1;
    }
    sum.g_step[ly] = out_row, sum.g_step[lx] = s.out_c;
    int32_t *out = gx.p;
    for (int32_t b = 0; b < s.batch; b++) {
        for (int32_t iy = 0; iy < s.in_h; iy++) {
            qnn_grad_run_t ry = qnn_grad_window_run(iy, s.k_h, s.out_h, s.stride_h, s.pad_top);
            for (int32_t ix = 0; ix < s.in_w; ix++, out += s.in_c) {
                qnn_grad_run_t rx = qnn_grad_window_run(ix, s.k_w, s.out_w, s.stride_w, s.pad_left);
                sum.n[ly] = (size_t)ry.count, sum.n[lx] = (size_t)rx.count;
                // The next window holds the position by a tap `stride` smaller; a run of two or
                // more fits in the kernel, so stride * row cannot overflow there.
                sum.a_step[ly] = ry.count > 1 ? -(s.stride_h * k_row) : 0;
                sum.a_step[lx] = rx.count > 1 ? -((ptrdiff_t)s.stride_w * s.in_c) : 0;
                sum.a_at = ry.at * k_row + (ptrdiff_t)rx.at * s.in_c;
                sum.g_at = ((ptrdiff_t)b * s.out_h + ry.first) * out_row + (ptrdiff_t)rx.first * s.out_c;
                qnn_grad_sum(out, (size_t)s.in_c, 0, &sum);
            }
        }
    }
    return QNN_OK;
}

int qnn_conv2d_weight_grad(qnn_s32_t gw, qnn_cs8_t x, qnn_cany_t g, qnn_cs32_t params) {
    return weight_grad(gw, x, g, params, 0);
}

int qnn_depthwise_weight_grad(qnn_s32_t gw, qnn_cs8_t x, qnn_cany_t g, qnn_cs32_t params) {
    return weight_grad(gw, x, g, params, 1);
}

int qnn_conv2d_input_grad(qnn_s32_t gx, qnn_cs8_t w, qnn_cany_t g, qnn_cs32_t params) {
    return input_grad(gx, w, g, params, 0);
}

int qnn_depthwise_input_grad(qnn_s32_t gx, qnn_cs8_t w, qnn_cany_t g, qnn_cs32_t params) {
    return input_grad(gx, w, g, params, 1);
}
