// The int8 multiply-accumulate loops of conv2d, depthwise_conv2d and fully_connected (mac.c): one
// output pixel, every output channel. fully_connected is conv2d's 1x1 case: one run of in_features
// taps.
#ifndef QNN_MAC_H
#define QNN_MAC_H

#include "qnn.h"

// conv2d: output channel c of the pixel reads `rows` runs of `run` taps, contiguous in input and
// weights alike: run r at x + r * x_row and at w + c * filter_step + r * w_row.
// depthwise: channel c reads `rows` runs of `run` taps, out_c apart in input and weights alike:
// run r at x + r * x_row + c and at w + r * w_row + c (filter_step is unused).
typedef struct {
    const int8_t *w;
    const int32_t *bias, *multiplier, *shift;
    size_t filter_step, x_row, w_row, run;
    int32_t rows, out_c, in_zp, out_zp, act_min, act_max;
} qnn_mac_t;

// out[c] for c < out_c: the requantized sum of bias[c] and (x - in_zp) * w over the taps,
// accumulated in int32 wrapping modulo 2^32 (the reference's int32 arithmetic).
void qnn_mac_pixel(int8_t *out, const int8_t *x, const qnn_mac_t *m);
void qnn_mac_depthwise_pixel(int8_t *out, const int8_t *x, const qnn_mac_t *m);

#endif
