// Pooling gradients. Each input position gathers from the windows that hold it, so that its
// sum is exact in int64 before the one saturation into gx (int8, int16 or int32).
#include "gradient.h"

// Pooling geometry, valid only if every window holds at least one input position.
static int pool_params(qnn_grad_geom_t *s, qnn_cs32_t params, qnn_any_t gx, qnn_cany_t g) {
    return params.n == QNN_POOL_GRAD_NPARAMS && qnn_grad_geometry(s, params.p, 1) && qnn_grad_size_ok(g.size)
        && qnn_grad_size_ok(gx.size)
        && s->pad_top < s->k_h && s->pad_left < s->k_w
        && (int64_t)(s->out_h - 1) * s->stride_h - s->pad_top < s->in_h
        && (int64_t)(s->out_w - 1) * s->stride_w - s->pad_left < s->in_w;
}

// The input positions [*lo, *hi) that window o holds along one axis.
static void window_span(int32_t o, int32_t stride, int32_t pad, int32_t k, int32_t in_n, int32_t *lo, int32_t *hi) {
    int32_t t_lo, t_hi;
    *lo = qnn_window(o, stride, pad, k, in_n, &t_lo, &t_hi);
    *hi = *lo + (t_hi - t_lo);
}

// Whether input (iy, ix) holds the first maximum, in window order, of the window over rows
// [y0, y1) and columns [x0, x1); xc is channel c of one batch element (elements s->in_c apart).
static int holds_first_max(const int8_t *xc, const qnn_grad_geom_t *s, int32_t y0, int32_t y1, int32_t x0, int32_t x1,
                           int32_t iy, int32_t ix) {
    int8_t v = xc[((size_t)iy * s->in_w + ix) * s->in_c];
    for (int32_t y = y0; y < y1; y++) {
        for (int32_t x = x0; x < x1; x++) {
            int8_t u = xc[((size_t)y * s->in_w + x) * s->in_c];
            int earlier = y < iy || (y == iy && x < ix);
            if (u > v || (u == v && earlier)) {
                return 0;
            }
        }
    }
    return 1;
}

// gx[b, iy, ix, c] = the sum, saturated to gx's type, over the windows that hold (iy, ix), of
// that window's share of g: rhaz(g / valid_count) for avg (x is NULL), all of g if (iy, ix) holds the
// window's first maximum for max.
static int pool_input_grad(qnn_any_t gx, const int8_t *x, qnn_cany_t g, const qnn_grad_geom_t *s) {
    size_t at = 0;
    for (int32_t b = 0; b < s->batch; b++) {
        const int8_t *xb = x ? x + (size_t)b * s->in_h * s->in_w * s->in_c : NULL;
        for (int32_t iy = 0; iy < s->in_h; iy++) {
            qnn_grad_run_t ry = qnn_grad_window_run(iy, s->k_h, s->out_h, s->stride_h, s->pad_top);
            for (int32_t ix = 0; ix < s->in_w; ix++) {
                qnn_grad_run_t rx = qnn_grad_window_run(ix, s->k_w, s->out_w, s->stride_w, s->pad_left);
                for (int32_t c = 0; c < s->in_c; c++) {
                    int64_t acc = 0;
                    for (int32_t oy = ry.first; oy < ry.first + ry.count; oy++) {
                        int32_t y0, y1;
                        window_span(oy, s->stride_h, s->pad_top, s->k_h, s->in_h, &y0, &y1);
                        for (int32_t ox = rx.first; ox < rx.first + rx.count; ox++) {
                            int32_t x0, x1;
                            window_span(ox, s->stride_w, s->pad_left, s->k_w, s->in_w, &x0, &x1);
                            int32_t v = qnn_grad_at(g, (((size_t)b * s->out_h + oy) * s->out_w + ox) * s->in_c + c);
                            if (!x) {
                                acc += qnn_grad_rhaz_div(v, (size_t)(y1 - y0) * (size_t)(x1 - x0));
                            } else if (holds_first_max(xb + c, s, y0, y1, x0, x1, iy, ix)) {
                                acc += v;
                            }
                        }
                    }
                    qnn_grad_store(gx, at++, acc);
                }
            }
        }
    }
    return QNN_OK;
}

static int pool_lengths(qnn_any_t gx, qnn_cany_t g, const qnn_grad_geom_t *s) {
    if (qnn_elements(s->batch, s->out_h, s->out_w, s->in_c) != g.n) {
        return QNN_ERR_AUX_LEN;
    }
    if (qnn_elements(s->batch, s->in_h, s->in_w, s->in_c) != gx.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    return QNN_OK;
}

int qnn_avg_pool_input_grad(qnn_any_t gx, qnn_cany_t g, qnn_cs32_t params) {
    qnn_grad_geom_t s;
    if (!pool_params(&s, params, gx, g)) {
        return QNN_ERR_PARAMS;
    }
    int status = pool_lengths(gx, g, &s);
    return status ? status : pool_input_grad(gx, NULL, g, &s);
}

int qnn_max_pool_input_grad(qnn_any_t gx, qnn_cs8_t x, qnn_cany_t g, qnn_cs32_t params) {
    qnn_grad_geom_t s;
    if (!pool_params(&s, params, gx, g)) {
        return QNN_ERR_PARAMS;
    }
    if (qnn_elements(s.batch, s.in_h, s.in_w, s.in_c) != x.n) {
        return QNN_ERR_INPUT_LEN;
    }
    int status = pool_lengths(gx, g, &s);
    return status ? status : pool_input_grad(gx, x.p, g, &s);
}

int qnn_global_avg_pool_input_grad(qnn_s32_t gx, qnn_cany_t g, qnn_cs32_t params) {
    if (params.n != QNN_GLOBAL_POOL_GRAD_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t batch = params.p[0], h = params.p[1], w = params.p[2], c = params.p[3];
    if (batch < 1 || h < 1 || w < 1 || c < 1 || !qnn_grad_size_ok(g.size)) {
        return QNN_ERR_PARAMS;
    }
    if ((uint64_t)batch * (uint64_t)c != g.n) {
        return QNN_ERR_AUX_LEN;
    }
    if (qnn_elements(batch, h, w, c) != gx.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    size_t area = (size_t)h * (size_t)w;  // <= gx.n, checked above
    for (int32_t b = 0; b < batch; b++) {
        for (int32_t ch = 0; ch < c; ch++) {
            size_t i = (size_t)b * c + ch;
            // |g / area| <= |g|, so the share fits int32.
            int32_t share = (int32_t)qnn_grad_rhaz_div(qnn_grad_at(g, i), area);
            int32_t *out = gx.p + (size_t)b * area * c + ch;
            for (size_t p = 0; p < area; p++) {
                out[p * c] = share;
            }
        }
    }
    return QNN_OK;
}
