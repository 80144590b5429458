#include "asm_function.h"
#include "gradient.h"
#include "qnn.h"

// rhaz(sum / count). Windows hold at most 2^24 inputs, so |sum| <= 2^31 and the magnitude
// plus half the count fits uint32.
static int32_t rounded_average(int32_t sum, int32_t count) {
    uint32_t magnitude = sum < 0 ? 0u - (uint32_t)sum : (uint32_t)sum;
    int32_t q = (int32_t)((magnitude + (uint32_t)count / 2) / (uint32_t)count);
    return sum < 0 ? -q : q;
}

// One channel of a window: rows of `cols` elements (a multiple of the channel count c) whose
// inputs are c apart, rows in_row apart.
static int32_t window_max(const int8_t *x, int32_t rows, size_t cols, size_t in_row, int32_t c) {
    int32_t v = INT8_MIN;
    for (int32_t r = 0; r < rows; r++, x += in_row) {
        for (size_t t = 0; t < cols; t += (size_t)c) {
            v = x[t] > v ? x[t] : v;
        }
    }
    return v;
}

// A 2x2 window inside the image, every channel (the models' max pool): four loads and three
// maxima an output, where window_max's loops took 82 instructions an output on the Cortex-M0.
#if defined(__ARM_ARCH_6M__)
// The Cortex-M0's in assembly: the four inputs' runs and the outputs from their ends, one index
// counting up to 0, 16 instructions an output where GCC 12's loop took about 20 (Thumb-1 loads a
// signed byte only from base + register).
// void qnn_max_2x2_m0(int8_t *out, const int8_t *x, size_t in_row, int32_t c), c >= 1.
void qnn_max_2x2_m0(int8_t *out, const int8_t *x, size_t in_row, int32_t c);
__asm__(
    QNN_ASM_BEGIN(qnn_max_2x2_m0)
    "push {r4, r5, r6, r7, lr}\n"
    "adds r0, r0, r3\n"          // the ends of out and of the window's four inputs' runs
    "adds r1, r1, r3\n"
    "adds r4, r1, r3\n"          // right
    "adds r5, r1, r2\n"          // below
    "adds r6, r4, r2\n"          // diagonal
    "negs r3, r3\n"
    "1:\n"
    "ldrsb r2, [r1, r3]\n"
    "ldrsb r7, [r4, r3]\n"
    "cmp r2, r7\n"
    "bge 2f\n"
    "mov r2, r7\n"
    "2:\n"
    "ldrsb r7, [r5, r3]\n"
    "cmp r2, r7\n"
    "bge 3f\n"
    "mov r2, r7\n"
    "3:\n"
    "ldrsb r7, [r6, r3]\n"
    "cmp r2, r7\n"
    "bge 4f\n"
    "mov r2, r7\n"
    "4:\n"
    "strb r2, [r0, r3]\n"
    "adds r3, #1\n"
    "bne 1b\n"
    "pop {r4, r5, r6, r7, pc}\n"
    QNN_ASM_END(qnn_max_2x2_m0));
#define max_2x2 qnn_max_2x2_m0
#else
static int32_t larger(int32_t a, int32_t b) {
    return a > b ? a : b;
}

static void max_2x2(int8_t *out, const int8_t *x, size_t in_row, int32_t c) {
    size_t right = (size_t)c, below = in_row, diagonal = in_row + (size_t)c;
    for (int8_t *end = out + c; out < end; out++, x++) {
        *out = (int8_t)larger(larger(x[0], x[right]), larger(x[below], x[diagonal]));
    }
}
#endif

static int32_t window_sum(const int8_t *x, int32_t rows, size_t cols, size_t in_row, int32_t c) {
    int32_t sum = 0;
    for (int32_t r = 0; r < rows; r++, x += in_row) {
        for (size_t t = 0; t < cols; t += (size_t)c) {
            sum += x[t];
        }
    }
    return sum;
}

static int pool(qnn_s8_t out, qnn_cs8_t x, qnn_cs32_t params, int average) {
    if (params.n != QNN_POOL_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    const int32_t *p = params.p;
    for (int i = 0; i < 10; i++) {  // batch .. stride_w
        if (p[i] < 1) {
            return QNN_ERR_PARAMS;
        }
    }
    int32_t batch = p[0], in_h = p[1], in_w = p[2], c = p[3], out_h = p[4], out_w = p[5], k_h = p[6], k_w = p[7];
    int32_t stride_h = p[8], stride_w = p[9], pad_top = p[10], pad_left = p[11], act_min = p[12], act_max = p[13];
    // Every window must hold an input: the first starts before the end of its padding, the last
    // starts inside the image.
    if (pad_top < 0 || pad_left < 0 || pad_top >= k_h || pad_left >= k_w
        || (int64_t)(out_h - 1) * stride_h - pad_top >= in_h || (int64_t)(out_w - 1) * stride_w - pad_left >= in_w
        || (uint64_t)k_h * (uint64_t)k_w > ((uint64_t)1 << 24)
        || act_min < -128 || act_max > 127 || act_min > act_max) {
        return QNN_ERR_PARAMS;
    }
    if (qnn_elements(batch, in_h, in_w, c) != x.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if (qnn_elements(batch, out_h, out_w, c) != out.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    size_t in_row = (size_t)in_w * c, x_step = (size_t)stride_w * c;
    // The output columns whose windows span the kernel row (conv2d's inner pixels): no
    // qnn_window (64-bit arithmetic, libgcc calls on the Cortex-M0) a pixel.
    qnn_grad_run_t inner = qnn_grad_tap_run(0, in_w - k_w + 1, out_w, stride_w, pad_left);
    int8_t *o = out.p;
    for (int32_t b = 0; b < batch; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            int32_t ky_lo, ky_hi;
            int32_t iy = qnn_window(oy, stride_h, pad_top, k_h, in_h, &ky_lo, &ky_hi);
            int32_t rows = ky_hi - ky_lo;
            for (int32_t ox = 0; ox < out_w; ox++) {
                int32_t kx_lo = 0, kx_hi = k_w, ix, count = 1;
                if (ox == inner.first && inner.count > 0) {
                    ix = inner.at, count = inner.count;
                } else {
                    ix = qnn_window(ox, stride_w, pad_left, k_w, in_w, &kx_lo, &kx_hi);
                }
                const int8_t *xw = x.p + (((size_t)b * in_h + iy) * in_w + ix) * c;
                size_t cols = (size_t)(kx_hi - kx_lo) * c;
                for (ox += count - 1; count > 0; count--, xw += x_step) {
                    if (!average && rows == 2 && cols == 2 * (size_t)c) {
                        max_2x2(o, xw, in_row, c);
                        o += c;
                        continue;
                    }
                    for (int32_t ch = 0; ch < c; ch++) {
                        *o++ = (int8_t)(average ? rounded_average(window_sum(xw + ch, rows, cols, in_row, c),
                                                                  rows * (kx_hi - kx_lo))
                                                : window_max(xw + ch, rows, cols, in_row, c));
                    }
                }
            }
        }
    }
    // A window's max or average is an int8 already: the models' pools (full range) end here.
    if (act_min > INT8_MIN || act_max < INT8_MAX) {
        for (size_t i = 0; i < out.n; i++) {
            out.p[i] = (int8_t)(out.p[i] < act_min ? act_min : (out.p[i] > act_max ? act_max : out.p[i]));
        }
    }
    return QNN_OK;
}

int qnn_max_pool_s8(qnn_s8_t out, qnn_cs8_t x, qnn_cs32_t params) {
    return pool(out, x, params, 0);
}

int qnn_avg_pool_s8(qnn_s8_t out, qnn_cs8_t x, qnn_cs32_t params) {
    return pool(out, x, params, 1);
}

int qnn_global_avg_pool_s8(qnn_s8_t out, qnn_cs8_t x, qnn_cs32_t params) {
    if (params.n != QNN_GLOBAL_POOL_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    // One window the size of the image: its checks and errors are exactly global_avg_pool's.
    const int32_t *p = params.p;
    const int32_t whole[QNN_POOL_NPARAMS] = {p[0], p[1], p[2], p[3], 1, 1, p[1], p[2], 1, 1, 0, 0, p[4], p[5]};
    return pool(out, x, (qnn_cs32_t){whole, QNN_POOL_NPARAMS}, 1);
}
