// Per kernel: call_<op> runs it on buffers sized from a params block (used by the fuzzer and
// the benchmark), fuzz_<op> picks random params and calls it. HARNESS_KERNELS lists them once.
#ifndef QNN_FUZZ_KERNELS_H
#define QNN_FUZZ_KERNELS_H

#include "fuzz_support.h"

// Harness params of the kernels that take scalar arguments, or buffers their params block does
// not size (fuzz_training.c and the benchmark share them): the scalars, then the sizes; a typed
// tensor's element size (1, 2 or 4 bytes, 8 to test rejection) comes last.
//   perturb, unperturb: seed, sigma, sign, count, element size
//   zo_node_gradient: its params block, then the query count, then the nodes per sample g holds
//   seeds: state[0], count
//   fill: value, count, element size
//   crc32: state[0], bytes
//   sgd_update: its params block, then w's element size
//   zo_update: its params block, then the query count, then w's element size
//   row_norms: its params block, then g's element size
//   channel_norms: its params block, then g's element size
//   frame_encode: n, then the data's kind (fuzz_frame.c: 0 random, 1 no 0x00, 2 mostly 0x00,
//     3 runs of 253 to 256 non-zero bytes)
//   frame_decode: the data's length, the corruption of its frame (fuzz_frame.c), out's length
//     minus (data length + 4), the data's kind; n is the corrupted body's length
//   copy: its params block (d, s, n), then 1 to pass one buffer as both dst and src
#define HARNESS_PERTURB_NPARAMS 5
#define HARNESS_NODE_GRADIENT_NPARAMS 8
#define HARNESS_SEEDS_NPARAMS 2
#define HARNESS_FILL_NPARAMS 3
#define HARNESS_CRC32_NPARAMS 2
#define HARNESS_SGD_NPARAMS 6
#define HARNESS_ZO_NPARAMS 7
#define HARNESS_ROW_NORMS_NPARAMS 4
#define HARNESS_CHANNEL_NORMS_NPARAMS 5
#define HARNESS_FRAME_ENCODE_NPARAMS 2
#define HARNESS_FRAME_DECODE_NPARAMS 4
#define HARNESS_COPY_NPARAMS 4

#define HARNESS_KERNELS(X)                          \
    X(fully_connected, QNN_FC_NPARAMS)              \
    X(conv2d, QNN_CONV_NPARAMS)                     \
    X(depthwise_conv2d, QNN_CONV_NPARAMS)           \
    X(max_pool, QNN_POOL_NPARAMS)                   \
    X(avg_pool, QNN_POOL_NPARAMS)                   \
    X(global_avg_pool, QNN_GLOBAL_POOL_NPARAMS)     \
    X(add, QNN_ADD_NPARAMS)                         \
    X(requantize, QNN_REQUANTIZE_NPARAMS)           \
    X(argmax, QNN_ARGMAX_NPARAMS)                   \
    X(fc_weight_grad, QNN_FC_WEIGHT_GRAD_NPARAMS)   \
    X(fc_input_grad, QNN_FC_INPUT_GRAD_NPARAMS)     \
    X(bias_grad, QNN_BIAS_GRAD_NPARAMS)             \
    X(conv2d_weight_grad, QNN_CONV_WEIGHT_GRAD_NPARAMS) \
    X(depthwise_weight_grad, QNN_CONV_WEIGHT_GRAD_NPARAMS) \
    X(conv2d_input_grad, QNN_CONV_INPUT_GRAD_NPARAMS) \
    X(depthwise_input_grad, QNN_CONV_INPUT_GRAD_NPARAMS) \
    X(avg_pool_input_grad, QNN_POOL_GRAD_NPARAMS)   \
    X(max_pool_input_grad, QNN_POOL_GRAD_NPARAMS)   \
    X(global_avg_pool_input_grad, QNN_GLOBAL_POOL_GRAD_NPARAMS) \
    X(clamp_mask, QNN_CLAMP_MASK_NPARAMS)           \
    X(perturb, HARNESS_PERTURB_NPARAMS)             \
    X(unperturb, HARNESS_PERTURB_NPARAMS)           \
    X(seeds, HARNESS_SEEDS_NPARAMS)                 \
    X(zo_update, HARNESS_ZO_NPARAMS)                \
    X(zo_node_gradient, HARNESS_NODE_GRADIENT_NPARAMS) \
    X(fill, HARNESS_FILL_NPARAMS)                   \
    X(quantize_s8, QNN_QUANTIZE_NPARAMS)            \
    X(sgd_update, HARNESS_SGD_NPARAMS)              \
    X(row_norms, HARNESS_ROW_NORMS_NPARAMS)         \
    X(topk, QNN_TOPK_NPARAMS)                       \
    X(standardize, QNN_STANDARDIZE_NPARAMS)         \
    X(channel_norms, HARNESS_CHANNEL_NORMS_NPARAMS) \
    X(cross_entropy, QNN_CROSS_ENTROPY_NPARAMS)     \
    X(crc32, HARNESS_CRC32_NPARAMS)                 \
    X(frame_encode, HARNESS_FRAME_ENCODE_NPARAMS)   \
    X(frame_decode, HARNESS_FRAME_DECODE_NPARAMS)   \
    X(copy, HARNESS_COPY_NPARAMS)

typedef struct {
    const char *name;
    void (*fuzz)(fuzz_t *f);
    int (*call)(fuzz_t *f, const int32_t *params);
    int n_params;
} harness_kernel_t;

extern const harness_kernel_t harness_kernels[];
extern const int harness_kernel_count;

#define HARNESS_DECLARE(op, n) int call_##op(fuzz_t *f, const int32_t *p); void fuzz_##op(fuzz_t *f);
HARNESS_KERNELS(HARNESS_DECLARE)

#endif
