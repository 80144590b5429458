#include "mac.h"
#include "asm_function.h"

// An int64 in two words: the scratch is only word-aligned.
typedef struct {
    uint32_t low;
    int32_t high;
} product_t;

// The tables: entry v + 128 of input a holds a'(v) * out_multiplier + 2^30, entry v + 384 of b
// b'(v) * out_multiplier. Where no a' + b' can leave int32 (so that the sum never saturates) and
// the output shift is a right shift (qnn_add_s8 checks), the output requantization's product
// splits over the two inputs: floor(((a' + b') * out_multiplier + 2^30) / 2^31) is the sum of two
// entries, shifted. An element then costs two lookups and a 64-bit add, where the sum's
// requantization took four 16-bit products on the Cortex-M0. Returns 0 where the split does not
// hold (the tables are then unused).
static int tabulate(product_t *table, const int32_t *p) {
    int32_t left_shift = p[7], out_mult = p[9];
    int64_t lowest = 0, highest = 0;
    for (int input = 0; input < 2; input++) {
        int32_t zp = p[1 + 3 * input], mult = p[2 + 3 * input], shift = p[3 + 3 * input];
        int32_t min = INT32_MAX, max = INT32_MIN;
        for (int32_t v = -128; v < 128; v++) {
            int32_t rescaled = qnn_requantize_shifted(v - zp, left_shift, mult, shift);
            int64_t product = (int64_t)rescaled * out_mult + (input ? 0 : (int64_t)1 << 30);
            table[256 * input + v + 128] = (product_t){(uint32_t)product, (int32_t)(product >> 32)};
            min = rescaled < min ? rescaled : min;
            max = rescaled > max ? rescaled : max;
        }
        lowest += min, highest += max;
    }
    return lowest >= INT32_MIN && highest <= INT32_MAX;
}

// The tables' loop: out[i] from the entries of a[i] and b[i] (ta and tb: the tables' entries of
// the value 0), their sum's floor by 2^31 divided by 2^(half_shift + 1) with TFLite's rounding,
// clamped to [lo, hi] and moved by out_zp. x / 2^e rounded half away from zero (e >= 1) is
// floor((floor((x - (x < 0)) / 2^(e-1)) + 1) / 2), which no x of these sums takes out of int32
// (|x| < 2^31 - 1).
typedef struct {
    const product_t *ta, *tb;
    int32_t half_shift, lo, hi, out_zp, count;
} lookup_t;

#if defined(__ARM_ARCH_6M__)
// Cortex-M0: 27 instructions an element, where GCC 12 spends about 55 moving values between the
// high registers and the low ones that Thumb-1's loads and shifts take. One index i, counting up
// to 0, reads a, b and out from their ends.
// void qnn_add_lookup_m0(int8_t *out, const int8_t *a, const int8_t *b, const lookup_t *l), count >= 1.
void qnn_add_lookup_m0(int8_t *out, const int8_t *a, const int8_t *b, const lookup_t *l);
__asm__(
    QNN_ASM_BEGIN(qnn_add_lookup_m0)
    "push {r4, r5, r6, r7, lr}\n"
    SAVE_HIGH_REGISTERS
    "ldm r3!, {r4, r5, r6, r7}\n"
    "mov r8, r4\n"               // ta
    "mov r9, r5\n"               // tb
    "mov lr, r6\n"               // half_shift
    "mov r10, r7\n"              // lo
    "ldm r3!, {r4, r5, r6}\n"
    "mov r11, r4\n"              // hi
    "mov r12, r5\n"              // out_zp
    "adds r1, r1, r6\n"
    "adds r2, r2, r6\n"
    "adds r3, r0, r6\n"
    "negs r0, r6\n"              // i
    "1:\n"
    "ldrsb r4, [r1, r0]\n"
    "lsls r4, r4, #3\n"
    "add r4, r8\n"
    "ldm r4, {r4, r5}\n"         // a's entry
    "ldrsb r6, [r2, r0]\n"
    "lsls r6, r6, #3\n"
    "add r6, r9\n"
    "ldm r6, {r6, r7}\n"         // b's entry
    "adds r4, r4, r6\n"
    "adcs r5, r7\n"
    "lsrs r4, r4, #31\n"
    "lsls r5, r5, #1\n"
    "orrs r4, r5\n"              // x, the sum's floor by 2^31
    "lsrs r5, r4, #31\n"
    "subs r4, r4, r5\n"
    "mov r5, lr\n"
    "asrs r4, r5\n"
    "adds r4, #1\n"
    "asrs r4, r4, #1\n"
    "cmp r4, r10\n"
    "bge 2f\n"
    "mov r4, r10\n"
    "2:\n"
    "cmp r4, r11\n"
    "ble 3f\n"
    "mov r4, r11\n"
    "3:\n"
    "add r4, r12\n"
    "strb r4, [r3, r0]\n"
    "adds r0, #1\n"
    "bne 1b\n"
    RESTORE_HIGH_REGISTERS
    "pop {r4, r5, r6, r7, pc}\n"
    QNN_ASM_END(qnn_add_lookup_m0));
#define LOOKUP qnn_add_lookup_m0
#else
static void lookup_in_c(int8_t *out, const int8_t *a, const int8_t *b, const lookup_t *l) {
    const product_t *ta = l->ta, *tb = l->tb;
    int32_t half_shift = l->half_shift, lo = l->lo, hi = l->hi, out_zp = l->out_zp;
    for (int32_t i = 0; i < l->count; i++) {
        product_t ea = ta[a[i]], eb = tb[b[i]];
        uint32_t low = ea.low + eb.low;
        uint32_t high = (uint32_t)ea.high + (uint32_t)eb.high + (low < eb.low);
        int32_t x = (int32_t)(high << 1 | low >> 31);
        x = (((x - (int32_t)((uint32_t)x >> 31)) >> half_shift) + 1) >> 1;
        x = x < lo ? lo : (x > hi ? hi : x);
        out[i] = (int8_t)(x + out_zp);
    }
}
#define LOOKUP lookup_in_c
#endif

int qnn_add_s8(qnn_s8_t out, qnn_cs8_t a, qnn_cs8_t b, qnn_cs32_t params, qnn_s8_t scratch) {
    if (params.n != QNN_ADD_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    const int32_t *p = params.p;
    int32_t count = p[0], a_zp = p[1], a_mult = p[2], a_shift = p[3], b_zp = p[4], b_mult = p[5], b_shift = p[6];
    int32_t left_shift = p[7], out_zp = p[8], out_mult = p[9], out_shift = p[10], act_min = p[11], act_max = p[12];
    if (count < 1 || left_shift < 0 || left_shift > 20 || a_zp < -128 || a_zp > 127 || b_zp < -128 || b_zp > 127
        || out_zp < -128 || out_zp > 127 || act_min < -128 || act_max > 127 || act_min > act_max
        || !qnn_requant_params_ok(&a_mult, &a_shift, 1) || !qnn_requant_params_ok(&b_mult, &b_shift, 1)
        || !qnn_requant_params_ok(&out_mult, &out_shift, 1)) {
        return QNN_ERR_PARAMS;
    }
    if ((size_t)count != a.n || (size_t)count != b.n) {
        return QNN_ERR_INPUT_LEN;
    }
    if ((size_t)count != out.n) {
        return QNN_ERR_OUTPUT_LEN;
    }
    size_t words;
    int32_t *table = qnn_scratch_words(scratch, &words);
    product_t *products = (product_t *)(void *)table;
    if (words >= QNN_ADD_SCRATCH / 4 && out_shift < 0 && tabulate(products, p)) {
        const lookup_t l = {products + 128, products + 384, -out_shift - 1, act_min - out_zp, act_max - out_zp,
                            out_zp, count};
        LOOKUP(out.p, a.p, b.p, &l);
        return QNN_OK;
    }
    // Both inputs move to a common finer scale (the left shift keeps their precision: at most
    // 255 * 2^20, well inside int32), are added there, and the sum is rescaled to the output,
    // QNN_OUTPUT_CHUNK at a time through the cores' output loop, which takes a multiplier and a
    // shift per output: the same ones each time, prepared once. With half the tables' bytes, each
    // input's rescaling of its 256 values is tabulated as int32: a heap too broken up for 4 KB
    // often has 2.
    int32_t *rescaled = words >= QNN_ADD_SCRATCH / 8 ? table : NULL;
    if (rescaled) {
        for (int32_t v = -128; v < 128; v++) {
            rescaled[v + 128] = qnn_requantize_shifted(v - a_zp, left_shift, a_mult, a_shift);
            rescaled[v + 384] = qnn_requantize_shifted(v - b_zp, left_shift, b_mult, b_shift);
        }
    }
    uint32_t sums[QNN_OUTPUT_CHUNK];
    int32_t mult[QNN_OUTPUT_CHUNK], shift[QNN_OUTPUT_CHUNK];
    for (int j = 0; j < QNN_OUTPUT_CHUNK; j++) {
        mult[j] = out_mult, shift[j] = out_shift;
    }
    qnn_outputs_t requant;
    qnn_outputs_prepare(&requant, mult, shift, QNN_OUTPUT_CHUNK, out_zp, act_min, act_max);
    for (int32_t first = 0; first < count; first += QNN_OUTPUT_CHUNK) {
        int n = count - first < QNN_OUTPUT_CHUNK ? (int)(count - first) : QNN_OUTPUT_CHUNK;
        const int8_t *x = a.p + first, *y = b.p + first;
        for (int j = 0; j < n; j++) {
            int64_t sum = rescaled ? (int64_t)rescaled[x[j] + 128] + rescaled[y[j] + 384]
                                   : (int64_t)qnn_requantize_shifted(x[j] - a_zp, left_shift, a_mult, a_shift)
                                     + qnn_requantize_shifted(y[j] - b_zp, left_shift, b_mult, b_shift);
            sums[j] = (uint32_t)(int32_t)(sum > INT32_MAX ? INT32_MAX : (sum < INT32_MIN ? INT32_MIN : sum));
        }
        qnn_outputs(out.p + first, sums, n, &requant);
    }
    return QNN_OK;
}
