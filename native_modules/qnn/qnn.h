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
int qnn_requant_params_ok(const int32_t *multiplier, const int32_t *shift, size_t n);

// The output step of every requantizing op: requantize, add the zero point (in 64 bits: the
// sum can leave int32 at extreme multipliers), clamp to [act_min, act_max].
static inline int8_t qnn_output_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t out_zp,
                                   int32_t act_min, int32_t act_max) {
    int64_t y = (int64_t)qnn_requantize(acc, multiplier, shift) + out_zp;
    return (int8_t)(y < act_min ? act_min : (y > act_max ? act_max : y));
}

// ---- Forward ops ----

// Fully connected. params: [batch, in_features, out_features, in_zp, out_zp, act_min, act_max]
#define QNN_FC_NPARAMS 7
int qnn_fully_connected_s8(qnn_s8_t out, qnn_cs8_t x, qnn_cs8_t w, qnn_cs32_t bias,
                           qnn_cs32_t multiplier, qnn_cs32_t shift, qnn_cs32_t params);

// ---- Random numbers and perturbation ----

// ---- Gradients ----

// ---- Updates, selection, loss ----

#endif
