// qnn: int8 kernels for on-device training. Plain C99, no MicroPython header:
// the same files build into the natmod (through qnn_glue.c) and into the host harness.
//
// Every kernel takes its buffers with their lengths in elements and a parameter block,
// checks everything before it touches memory, and returns QNN_OK or a negative error code.
// Output buffers are the caller's; nothing is allocated.
#ifndef QNN_H
#define QNN_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    QNN_OK = 0,
    QNN_ERR_PARAMS = -1,      // a parameter is out of its range or the params block has the wrong length
    QNN_ERR_INPUT_LEN = -2,   // an input buffer does not match the shape
    QNN_ERR_WEIGHT_LEN = -3,  // a weight buffer does not match the shape
    QNN_ERR_BIAS_LEN = -4,    // bias, multiplier or shift buffer does not match the channel count
    QNN_ERR_OUTPUT_LEN = -5,  // the output buffer does not match the shape
    QNN_ERR_AUX_LEN = -6,     // a mask, gradient or index buffer does not match
} qnn_status_t;

// A buffer of n elements. The kernels never read or write outside [p, p + n).
typedef struct { const int8_t *p; size_t n; } qnn_cs8_t;
typedef struct { int8_t *p; size_t n; } qnn_s8_t;
typedef struct { const int32_t *p; size_t n; } qnn_cs32_t;
typedef struct { int32_t *p; size_t n; } qnn_s32_t;

// Requantization: TFLite's MultiplyByQuantizedMultiplier (see device/mcutrain/reference/requant.py,
// the specification). multiplier in [0, 2^31), shift in [-31, 30], positive shift is a left shift.
int32_t qnn_requantize(int32_t acc, int32_t multiplier, int32_t shift);
// x / 2^exponent rounded half away from zero, exponent in [0, 31]: the floor, plus one where the
// remainder passes half (half itself counts for x >= 0), without a branch: threshold - remainder
// is negative exactly then, and neither term leaves [0, 2^31).
static inline int32_t qnn_rounding_divide_by_pot(int32_t x, int exponent) {
    uint32_t mask = ((uint32_t)1 << exponent) - 1;
    uint32_t threshold = (mask >> 1) + ((uint32_t)x >> 31), remainder = (uint32_t)x & mask;
    return (x >> exponent) + (int32_t)((threshold - remainder) >> 31);
}

int qnn_requant_params_ok(const int32_t *multiplier, const int32_t *shift, size_t n);
// qnn_requantize(d << left_shift, multiplier, shift) for |d| <= 255 (int8 less a zero point) and
// left_shift in [0, 20] (add's inputs): on the Cortex-M0, at left shifts of 15 and more, from two
// 32-bit products.
int32_t qnn_requantize_shifted(int32_t d, int32_t left_shift, int32_t multiplier, int32_t shift);

// The output step of every requantizing op: requantize, add the zero point, clamp to
// [act_min, act_max]. Clamping before the add, to bounds moved by -out_zp, gives the same result
// in 32 bits (the sum itself can leave int32 at extreme multipliers). A multiplier >= 0 keeps the
// sign, so a sum <= 0 requantizes to <= 0: under a ReLU's lower bound (act_min - out_zp >= 0) it
// lands on that bound without a requantization. mac.c's Cortex-M0 output loop is this in assembly.
static inline int8_t qnn_output_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t out_zp,
                                   int32_t act_min, int32_t act_max) {
    int32_t lo = act_min - out_zp, hi = act_max - out_zp, y = lo;
    if (acc > 0 || lo < 0) {
        y = qnn_requantize(acc, multiplier, shift);
        y = y < lo ? lo : (y > hi ? hi : y);
    }
    return (int8_t)(y + out_zp);
}

// ---- Forward ops ----

// scratch (fully_connected and conv2d): work space of any length, n = 0 for none. Where a core
// has a loop over widened weights (QNN_SCRATCH_PER_WEIGHT > 0: the Cortex-M0, and the cores with
// the DSP extension where every window run is whole words), the kernel copies as many output
// channels' weights into it as fit, that many bytes a weight, in groups of four channels, and runs
// that loop; the result is the same either way, and the scratch's contents afterwards are
// unspecified. The copy costs a few instructions a weight and saves about 5 a tap of four channels
// per output pixel on the Cortex-M0, 10 a step of four taps on the M4: it pays from about 8 pixels
// (a batch of 8 for fully_connected).
// The scratch's int32 words from its first word boundary: *words of them (0 in an empty one).
static inline int32_t *qnn_scratch_words(qnn_s8_t scratch, size_t *words) {
    size_t skip = (4 - (uintptr_t)scratch.p % 4) % 4;
    *words = scratch.n > skip ? (scratch.n - skip) / 4 : 0;
    return *words ? (int32_t *)(void *)(scratch.p + skip) : NULL;
}

// Bytes a widened weight takes: an int32 on the Cortex-M0 (one LDM loads a tap's four), an int16
// of a lane pair on cores with the DSP extension (SMLAD takes the pair as it is, no SXTB16).
#if defined(__ARM_ARCH_6M__) || defined(QNN_WIDEN_WEIGHTS)
#define QNN_SCRATCH_PER_WEIGHT 4
#elif defined(__ARM_FEATURE_DSP)
#define QNN_SCRATCH_PER_WEIGHT 2
#else
#define QNN_SCRATCH_PER_WEIGHT 0
#endif

// Fully connected. params: [batch, in_features, out_features, in_zp, out_zp, act_min, act_max]
#define QNN_FC_NPARAMS 7
int qnn_fully_connected_s8(qnn_s8_t out, qnn_cs8_t x, qnn_cs8_t w, qnn_cs32_t bias,
                           qnn_cs32_t multiplier, qnn_cs32_t shift, qnn_cs32_t params, qnn_s8_t scratch);

// The element count of a shape of positive dims, or UINT64_MAX (a length no buffer has) once
// it passes 2^32: the products never overflow, and no 32-bit board holds a longer buffer.
uint64_t qnn_elements(int32_t a, int32_t b, int32_t c, int32_t d);

// One axis of a sliding window: output position o reads input o * stride - pad + t for the taps
// t in [0, k). Sets [*t_lo, *t_hi) to the taps that land in [0, size) (both 0 when none do) and
// returns the input position of tap *t_lo. Safe for any int32 arguments.
int32_t qnn_window(int32_t o, int32_t stride, int32_t pad, int32_t k, int32_t size, int32_t *t_lo, int32_t *t_hi);

// conv2d and depthwise_conv2d. params: [batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w,
// stride_h, stride_w, pad_top, pad_left, in_zp, out_zp, act_min, act_max]. NHWC activations;
// conv2d weights OHWI, depthwise weights [k_h, k_w, c] with out_c == in_c.
#define QNN_CONV_NPARAMS 17
int qnn_conv2d_s8(qnn_s8_t out, qnn_cs8_t x, qnn_cs8_t w, qnn_cs32_t bias,
                  qnn_cs32_t multiplier, qnn_cs32_t shift, qnn_cs32_t params, qnn_s8_t scratch);
int qnn_depthwise_conv2d_s8(qnn_s8_t out, qnn_cs8_t x, qnn_cs8_t w, qnn_cs32_t bias,
                            qnn_cs32_t multiplier, qnn_cs32_t shift, qnn_cs32_t params);

// Pooling. params: [batch, in_h, in_w, c, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top,
// pad_left, act_min, act_max]; every window must hold an input and k_h * k_w <= 2^24.
#define QNN_POOL_NPARAMS 14
int qnn_max_pool_s8(qnn_s8_t out, qnn_cs8_t x, qnn_cs32_t params);
int qnn_avg_pool_s8(qnn_s8_t out, qnn_cs8_t x, qnn_cs32_t params);
// params: [batch, h, w, c, act_min, act_max], h * w <= 2^24.
#define QNN_GLOBAL_POOL_NPARAMS 6
int qnn_global_avg_pool_s8(qnn_s8_t out, qnn_cs8_t x, qnn_cs32_t params);

// Elementwise add of two int8 tensors (TFLite). params: [count, a_zp, a_multiplier, a_shift,
// b_zp, b_multiplier, b_shift, left_shift, out_zp, out_multiplier, out_shift, act_min, act_max]
// scratch (n = 0 for none): with QNN_ADD_SCRATCH bytes from its first word boundary, the kernel
// tabulates each input's rescaling for its 256 values times the output multiplier, as int64, and
// an element costs two lookups and a 64-bit add instead of three requantizations (where no sum
// can saturate and out_shift < 0, as in every model we make; add.c). It pays from about 360
// elements. With half those bytes, the kernel tabulates each input's rescaling as int32, and an
// element costs two lookups and one requantization.
#define QNN_ADD_NPARAMS 13
#define QNN_ADD_SCRATCH 4096
int qnn_add_s8(qnn_s8_t out, qnn_cs8_t a, qnn_cs8_t b, qnn_cs32_t params, qnn_s8_t scratch);

// int32 accumulators to int8, channel i % channels. params: [count, channels, out_zp, act_min, act_max]
#define QNN_REQUANTIZE_NPARAMS 5
int qnn_requantize_s8(qnn_s8_t out, qnn_cs32_t acc, qnn_cs32_t multiplier, qnn_cs32_t shift, qnn_cs32_t params);

// First index of each row's maximum. params: [batch, classes]
#define QNN_ARGMAX_NPARAMS 2
int qnn_argmax_s8(qnn_s32_t out, qnn_cs8_t x, qnn_cs32_t params);

// ---- Random numbers and perturbation ----

// A tensor whose element type the caller's buffer tells by its element size in bytes:
// 1 = int8, 2 = int16, 4 = int32. Each kernel names the sizes it takes; others are QNN_ERR_PARAMS.
typedef struct { void *p; size_t n; size_t size; } qnn_any_t;
typedef struct { const void *p; size_t n; size_t size; } qnn_cany_t;

// Rademacher perturbation from a seed (docs/kernels.md, "Random numbers: xorshift32"). t is int8
// or int32, seed in [0, 2^30), sigma >= 1 (<= 127 for int8), sign +1 or -1; the mask holds a bit
// per element for the elements perturb left alone. perturb returns how many it left alone.
int qnn_perturb(qnn_any_t t, qnn_s8_t mask, int32_t seed, int32_t sigma, int32_t sign);
int qnn_unperturb(qnn_any_t t, qnn_cs8_t mask, int32_t seed, int32_t sigma, int32_t sign);

// The seed stream: out[i] = next output >> 2; state[0] holds (xorshift state) ^ 0x9E3779B9, so a
// seed in [0, 2^30) starts the same stream as that seed's Rademacher vector.
int qnn_seeds(qnn_s32_t out, qnn_s32_t state);
// w -= round(sat32(sum_q coeffs[q] * u_q[i]) * step_multiplier[c] / 2^step_shift[c]), c = (i / inner) % channels,
// regenerating the n <= QNN_ZO_MAX_QUERIES Rademacher vectors instead of storing a gradient.
// params: as sgd_update's.
#define QNN_ZO_MAX_QUERIES 128
int qnn_zo_update(qnn_any_t w, qnn_cs32_t seeds, qnn_cs32_t coeffs, qnn_cs32_t step_multiplier,
                  qnn_cs32_t step_shift, qnn_cs32_t params);
// Node perturbation's estimate for nodes first .. first + count - 1 of each sample, overwriting g:
// g[b, i] = sat32(sum_q coeffs[q, b] * u(seeds[q, b])[first + i]), 0 where y[b, first + i] is at
// or beyond a bound. g int32 [batch, count], y int8 [batch, nodes], seeds and coeffs int32
// [queries, batch]. params: [batch, nodes, first, act_min, act_max]
#define QNN_ZO_NODE_GRADIENT_NPARAMS 6
int qnn_zo_node_gradient(qnn_s32_t g, qnn_cs8_t y, qnn_cs32_t seeds, qnn_cs32_t coeffs, qnn_cs32_t params);

// Every element of t (int8 or int32) = value, which must fit the type.
int qnn_fill(qnn_any_t t, int32_t value);

// ---- Gradients ----

// Every g is int8, int16 or int32 (qnn_cany_t, element size 1, 2 or 4); x, w, y are int8;
// gw, gb, gx are int32. Sums are exact in int64, then saturated into int32.
// Fully connected. weight: [batch, in_features, out_features, in_zp]; input: [batch, in_features, out_features]
#define QNN_FC_WEIGHT_GRAD_NPARAMS 4
#define QNN_FC_INPUT_GRAD_NPARAMS 3
int qnn_fc_weight_grad(qnn_s32_t gw, qnn_cs8_t x, qnn_cany_t g, qnn_cs32_t params);
int qnn_fc_input_grad(qnn_s32_t gx, qnn_cs8_t w, qnn_cany_t g, qnn_cs32_t params);
// params: [rows, channels]
#define QNN_BIAS_GRAD_NPARAMS 2
int qnn_bias_grad(qnn_s32_t gb, qnn_cany_t g, qnn_cs32_t params);
// Convolutions: conv2d's params up to in_zp (weight) or pad_left (input).
#define QNN_CONV_WEIGHT_GRAD_NPARAMS 14
#define QNN_CONV_INPUT_GRAD_NPARAMS 13
int qnn_conv2d_weight_grad(qnn_s32_t gw, qnn_cs8_t x, qnn_cany_t g, qnn_cs32_t params);
int qnn_depthwise_weight_grad(qnn_s32_t gw, qnn_cs8_t x, qnn_cany_t g, qnn_cs32_t params);
int qnn_conv2d_input_grad(qnn_s32_t gx, qnn_cs8_t w, qnn_cany_t g, qnn_cs32_t params);
int qnn_depthwise_input_grad(qnn_s32_t gx, qnn_cs8_t w, qnn_cany_t g, qnn_cs32_t params);
// Pooling: the pools' params up to pad_left; global: [batch, h, w, c].
#define QNN_POOL_GRAD_NPARAMS 12
#define QNN_GLOBAL_POOL_GRAD_NPARAMS 4
// avg and max pool's gx may be int8, int16 or int32 as well: each sum saturates into its type.
// An int8 gx with int8 g and windows that do not overlap is the int8 error itself, routed
// (max), with no int32 scratch to requantize from.
int qnn_avg_pool_input_grad(qnn_any_t gx, qnn_cany_t g, qnn_cs32_t params);
int qnn_max_pool_input_grad(qnn_any_t gx, qnn_cs8_t x, qnn_cany_t g, qnn_cs32_t params);
int qnn_global_avg_pool_input_grad(qnn_s32_t gx, qnn_cany_t g, qnn_cs32_t params);
// In place: g[i] = 0 unless act_min < y[i] < act_max. params: [count, act_min, act_max]
#define QNN_CLAMP_MASK_NPARAMS 3
int qnn_clamp_mask(qnn_any_t g, qnn_cs8_t y, qnn_cs32_t params);

// ---- Updates, selection, loss ----

// int32 to int8 at a dynamic power-of-two scale; returns the shift s. params: [count, stochastic, seed]
#define QNN_QUANTIZE_NPARAMS 3
int qnn_quantize_s8(qnn_s8_t out, qnn_cs32_t acc, qnn_cs32_t params);

// w (int8 or int32) -= round(g * step_multiplier[c] / 2^step_shift[c]), saturating, c = (i / inner) % channels.
// params: [count, channels, inner, stochastic, seed] (QNN_UPDATE_NPARAMS, update.h)
int qnn_sgd_update(qnn_any_t w, qnn_cs32_t g, qnn_cs32_t step_multiplier, qnn_cs32_t step_shift,
                   qnn_cs32_t params);

// Per-row sum of squares of g (int8/16/32), shifted right. params: [rows, row_length, shift]
#define QNN_ROW_NORMS_NPARAMS 3
int qnn_row_norms(qnn_s32_t out, qnn_cany_t g, qnn_cs32_t params);

// Per-channel statistics in sgd_update's layout, channel (i / inner) % channels (standardize.c).
// In place: g = sat32(rhaz((g - mean) * 2^q_bits / std)) per channel, 0 where std is 0.
// params: [count, channels, inner, q_bits], q_bits in [0, 30]
#define QNN_STANDARDIZE_NPARAMS 4
int qnn_standardize(qnn_s32_t g, qnn_cs32_t params);
// out[c] = min(2^31 - 1, (sum of channel c's g^2, saturating uint64) >> shift); g int8/16/32.
// params: [count, channels, inner, shift]
#define QNN_CHANNEL_NORMS_NPARAMS 4
int qnn_channel_norms(qnn_s32_t out, qnn_cany_t g, qnn_cs32_t params);

// Indices of the k largest scores, largest first, ties to the lower index. params: [n, k]
#define QNN_TOPK_NPARAMS 2
int qnn_topk(qnn_s32_t out, qnn_cs32_t scores, qnn_cs32_t params);

// Softmax cross-entropy in Q16 and its int8 output error (none where grad is empty); returns the
// batch-mean loss. labels are bytes. params: [batch, classes, logit_zp, logit_scale_q16]
#define QNN_CROSS_ENTROPY_NPARAMS 4
int qnn_cross_entropy(qnn_s32_t loss, qnn_s8_t grad, qnn_cs8_t logits, qnn_cs8_t labels, qnn_cs32_t params);

// ---- Utilities ----

// CRC-32 (zlib's: reflected polynomial 0xEDB88320) of n bytes, continued from and written back
// to state[0], which holds the CRC as uint32 bits. Start with state[0] = 0; after the last chunk
// state[0] == zlib.crc32(all chunks). The CRC stays in a buffer because MicroPython's small ints
// are 31-bit on 32-bit boards: a returned CRC would allocate a big int per chunk.
int qnn_crc32(qnn_s32_t state, const uint8_t *data, size_t n);

// Link frames (docs/protocol.md, device/mcutrain/reference/frame.py), all buffers in bytes.
// frame_encode: out[:k] = 0x00, 0x80 | L & 0x7F, 0x80 | L >> 7, then the L-byte COBS encoding of
// data[:n] followed by its CRC-32 (little endian); returns k = L + 3. params: [n], 1 <= n <=
// data.n, the longest COBS of n + 4 bytes (n + 4 + (n + 4) / 254 + 1) at most 2^14 - 1 (so
// n <= 16314); out must hold that longest encoding + 3 bytes whatever the data. out and data
// must not overlap.
#define QNN_FRAME_NPARAMS 1
int qnn_frame_encode(qnn_s8_t out, qnn_cs8_t data, qnn_cs32_t params);
// frame_decode: the COBS body[:n] decoded into out (the data, then its 4 CRC bytes); returns the
// data's length, or 0 (not an error) when body[:n] is not a frame: not COBS, shorter than
// 5 decoded bytes, longer than out, or a CRC that does not match. out is written only for a good
// frame. params: [n], 0 <= n <= body.n. Safe on any bytes: the body comes off a serial line.
int qnn_frame_decode(qnn_s8_t out, qnn_cs8_t body, qnn_cs32_t params);
// dst[d:d + n] = src[s:s + n] as memmove: dst and src may be one buffer or overlapping views.
// params: [d, s, n], each >= 0; src too short is QNN_ERR_INPUT_LEN, dst QNN_ERR_OUTPUT_LEN.
#define QNN_COPY_NPARAMS 3
int qnn_copy(qnn_s8_t dst, qnn_cs8_t src, qnn_cs32_t params);

#endif
