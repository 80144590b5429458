// The int8 multiply-accumulate loops of conv2d, depthwise_conv2d and fully_connected (mac.c): one
// output pixel, every output channel. fully_connected is conv2d's 1x1 case: one run of in_features
// taps.
#ifndef QNN_MAC_H
#define QNN_MAC_H

#include "qnn.h"

// The most sums one call of the output loop requantizes (mac.c), and on the Cortex-M0 the most
// channels a pass has: its requantization's table's (qnn_outputs_t).
#define QNN_OUTPUT_CHUNK 32

// The requantization of up to QNN_OUTPUT_CHUNK outputs, made once (qnn_outputs_prepare) for every
// call of qnn_outputs over them: their multipliers and shifts, and bounds = {act_min - out_zp,
// act_max - out_zp, out_zp}. On the Cortex-M0 also its output loop's table: the bounds, then for
// each output its multiplier b split into 16-bit halves around e + 14, e its right shift:
// {b >> 16, e + 14, b & 0xFFFF}, one LDM's worth; ready where every shift is a right shift, which
// that loop takes (the others go through C).
typedef struct {
    const int32_t *multiplier, *shift;
    int32_t bounds[3];
#if defined(__ARM_ARCH_6M__)
    int32_t table[3 + 3 * QNN_OUTPUT_CHUNK];
    int ready;
#endif
} qnn_outputs_t;

// conv2d: output channel c of the pixel reads `rows` runs of `run` taps, contiguous in input and
// weights alike: run r at x + r * x_row and at w + c * filter_step + r * w_row.
// depthwise: channel c reads `rows` runs of `run` taps, out_c apart in input and weights alike:
// run r at x + r * x_row + c and at w + r * w_row + c (filter_step is unused).
// A pixel call makes output channels [c_begin, c_end). Where `wide` is set, the weights of the
// whole groups of four among them are also widened (qnn_start_pass): wide is group c_begin's at the
// window's first tap, w_row apart a row as in w, QNN_SCRATCH_PER_WEIGHT bytes a tap, wide_step taps
// a channel: filter_step, or on the DSP cores, for conv2d's gathered windows (conv2d.c),
// filter_step rounded up to whole words, the taps past filter_step zero.
typedef struct {
    const int8_t *w;
    const int32_t *bias, *multiplier, *shift;
    size_t filter_step, x_row, w_row, run;
    int32_t rows, out_c, in_zp, out_zp, act_min, act_max, c_begin, c_end;
    const int32_t *wide;
    size_t wide_step;
    qnn_outputs_t *requant;  // the caller's, where qnn_start_pass prepares the pass's requantization
} qnn_mac_t;

// out[c] for c in [c_begin, c_end): the requantized sum of bias[c] and (x - in_zp) * w over the
// taps, accumulated in int32 wrapping modulo 2^32 (the reference's int32 arithmetic).
void qnn_mac_pixel(int8_t *out, const int8_t *x, const qnn_mac_t *m);
void qnn_mac_depthwise_pixel(int8_t *out, const int8_t *x, const qnn_mac_t *m);
// qnn_mac_pixel for `count` pixels: out + i * out_step from x + i * x_step, the same window.
void qnn_mac_pixels(int8_t *out, size_t out_step, const int8_t *x, size_t x_step, int32_t count, const qnn_mac_t *m);
// acc[c - c_begin] += the sum of (x - in_zp) * w over channel c's taps, for c in [c_begin, c_end)
// and the window of m (depthwise): qnn_mac_depthwise_pixel's sums before requantization, and the
// depthwise weight gradient's, whose window runs over output pixels (conv_grad.c).
void qnn_mac_depthwise_sums(uint32_t *acc, const int8_t *x, const qnn_mac_t *m, int32_t c_begin, int32_t c_end);

// Prepares o for outputs j < n of these multipliers and shifts (on the Cortex-M0 n <=
// QNN_OUTPUT_CHUNK, its table's).
void qnn_outputs_prepare(qnn_outputs_t *o, const int32_t *multiplier, const int32_t *shift, int n, int32_t out_zp,
                         int32_t act_min, int32_t act_max);
// out[j] = qnn_output_s8(acc[j], multiplier[j], shift[j], out_zp, act_min, act_max) for j < n, n >= 1
// and at most o's: the output loop of each core (in assembly on the Cortex-M cores).
void qnn_outputs(int8_t *out, const uint32_t *acc, int n, const qnn_outputs_t *o);

// Output channels in passes over the pixels: how many a pass makes (a multiple of four, or out_c),
// and *wide, where in the scratch their weights are widened (word-aligned), or NULL where the
// scratch widens none: too short for four channels' weights, or for a pass that pays; any core
// without QNN_SCRATCH_PER_WEIGHT; on the DSP cores, windows whose runs are not whole words (their
// loop takes four taps a step): run_unit, which divides every run and its first tap, is no
// multiple of 4. Then one pass makes all out_c.
int32_t qnn_wide_channels(qnn_s8_t scratch, size_t wide_step, size_t run_unit, int32_t out_c, int32_t **wide);
// Starts the pass from m->c_begin: sets m->c_end (on the Cortex-M0, at most QNN_OUTPUT_CHUNK
// channels on), prepares m->requant for its channels, and widens the pass's weights (w: the
// layer's) into wide, if given, for the whole groups g of four channels: on the Cortex-M0
// (and the host harness), wide[(g * wide_step + i) * 4 + j] = w[(c_begin + 4g + j) * filter_step + i];
// on the DSP cores, wide[(g * wide_step / 4 + q) * 8 + 2j + h] holds channel c_begin + 4g + j's taps
// 4q + h and 4q + h + 2 as its low and high int16 (h = 0, 1), the lanes SXTAB16 makes of the input
// (taps from filter_step on: 0).
void qnn_start_pass(qnn_mac_t *m, int32_t channels, int32_t *wide, const int8_t *w);

#endif
