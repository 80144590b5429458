// Rademacher perturbation of a tensor from a seed and its exact undo: the queries of a
// zeroth-order (SPSA) gradient estimate. u is regenerated from the seed each time and never stored.
#include "asm_function.h"
#include "qnn.h"
#include "xorshift.h"

// The checks perturb and unperturb share.
static int perturbation_status(qnn_any_t t, size_t mask_bytes, int32_t seed, int32_t sigma, int32_t sign) {
    if ((t.size != 1 && t.size != 4) || !qnn_seed_ok(seed) || sigma < 1 || (t.size == 1 && sigma > 127)
        || (sign != 1 && sign != -1)) {
        return QNN_ERR_PARAMS;
    }
    // perturb returns a count of elements as an int.
    if (t.n > (size_t)INT32_MAX) {
        return QNN_ERR_INPUT_LEN;
    }
    if (mask_bytes < t.n / 8 + (t.n % 8 != 0)) {
        return QNN_ERR_AUX_LEN;
    }
    return QNN_OK;
}

// Elements go in blocks of eight, one mask byte each (the last block may be shorter); the block
// at element i takes bits i % 32 .. i % 32 + 7 of xorshift output i / 32, `bits` below, element
// i + j bit j. One loop per element type: a type test per element cost the Cortex-M0 a third of
// perturb's time.

// Adds +step or -step to each element where the sum stays within int8; returns the mask bits of
// the elements left alone.
#if defined(__ARM_ARCH_6M__)
// The Cortex-M0's in assembly: one index, counting up to 0, addresses the block from its end, 11.5
// instructions an element where GCC 12's loop took about 18 (with the block's bookkeeping, 17.2 an
// element where it was 23.7).
// uint32_t qnn_perturb_s8_m0(int8_t *t, size_t count, uint32_t bits, int32_t step), count >= 1.
uint32_t qnn_perturb_s8_m0(int8_t *t, size_t count, uint32_t bits, int32_t step);
__asm__(
    QNN_ASM_BEGIN(qnn_perturb_s8_m0)
    "push {r4, r5, r6, r7, lr}\n"
    "adds r0, r0, r1\n"
    "negs r1, r1\n"
    "movs r4, #0\n"              // the bits of the elements left alone
    "movs r5, #1\n"              // the element's
    "1:\n"
    "ldrsb r6, [r0, r1]\n"
    "lsrs r2, r2, #1\n"
    "bcc 2f\n"
    "adds r6, r6, r3\n"
    "b 3f\n"
    "2:\n"
    "subs r6, r6, r3\n"
    "3:\n"
    "sxtb r7, r6\n"
    "cmp r7, r6\n"
    "bne 4f\n"
    "strb r6, [r0, r1]\n"
    "5:\n"
    "lsls r5, r5, #1\n"
    "adds r1, #1\n"
    "bne 1b\n"
    "movs r0, r4\n"
    "pop {r4, r5, r6, r7, pc}\n"
    "4:\n"
    "orrs r4, r5\n"
    "b 5b\n"
    QNN_ASM_END(qnn_perturb_s8_m0));
#define perturb_s8 qnn_perturb_s8_m0
#else
static uint32_t perturb_s8(int8_t *t, size_t count, uint32_t bits, int32_t step) {
    uint32_t alone = 0;
    for (uint32_t bit = 1; bit < 1u << count; bit <<= 1, t++, bits >>= 1) {
        int32_t v = *t + ((bits & 1u) ? step : -step);  // |step| <= 127
        if ((int8_t)v == v) {
            *t = (int8_t)v;
        } else {
            alone |= bit;
        }
    }
    return alone;
}
#endif

// 32-bit arithmetic: a core without 64-bit instructions pays for every 64-bit add and compare.
// Not inlined: inside qnn_perturb's loop, GCC 12 -Os kept its values on the stack (39 instructions
// an element on the Cortex-M0 instead of 24).
__attribute__((noinline)) static uint32_t perturb_s32(int32_t *t, size_t count, uint32_t bits, int32_t step) {
    uint32_t alone = 0;
    for (size_t j = 0; j < count; j++, bits >>= 1) {
        int32_t v;
        if (__builtin_add_overflow(t[j], (bits & 1u) ? step : -step, &v)) {
            alone |= 1u << j;  // the builtin's v is the wrapped sum: t[j] stays
        } else {
            t[j] = v;
        }
    }
    return alone;
}

int qnn_perturb(qnn_any_t t, qnn_s8_t mask, int32_t seed, int32_t sigma, int32_t sign) {
    int status = perturbation_status(t, mask.n, seed, sigma, sign);
    if (status != QNN_OK) {
        return status;
    }
    int32_t step = sign * sigma;  // sigma >= 1, so -sigma fits too
    uint32_t state = qnn_xorshift_start(seed), bits = 0;
    int32_t left_alone = 0;
    for (size_t i = 0; i < t.n; i += 8, bits >>= 8) {
        if (i % 32 == 0) {
            bits = qnn_xorshift_next(&state);
        }
        size_t count = t.n - i < 8 ? t.n - i : 8;
        uint32_t alone = t.size == 1 ? perturb_s8((int8_t *)t.p + i, count, bits, step)
                                     : perturb_s32((int32_t *)t.p + i, count, bits, step);
        for (uint32_t b = alone; b; b &= b - 1) {
            left_alone++;
        }
        // The last byte keeps its bits past n.
        uint32_t ours = (1u << count) - 1;
        mask.p[i / 8] = (int8_t)(((uint8_t)mask.p[i / 8] & ~ours) | alone);
    }
    return left_alone;
}

// Subtracts the block's steps from the elements whose mask bit is clear, wrapping like the type.
#if defined(__ARM_ARCH_6M__)
// The Cortex-M0's in assembly, as perturb's: 9.5 instructions an element where GCC 12's took
// about 17 (with the block's bookkeeping, 13.5 where it was 21.0).
// void qnn_unperturb_s8_m0(int8_t *t, size_t count, uint32_t bits, uint32_t alone, uint32_t step),
// count >= 1.
void qnn_unperturb_s8_m0(int8_t *t, size_t count, uint32_t bits, uint32_t alone, uint32_t step);
__asm__(
    QNN_ASM_BEGIN(qnn_unperturb_s8_m0)
    "push {r4, r5, lr}\n"
    "ldr r4, [sp, #12]\n"        // step
    "adds r0, r0, r1\n"
    "negs r1, r1\n"
    "1:\n"
    "lsrs r3, r3, #1\n"
    "bcs 4f\n"                   // left alone
    "ldrb r5, [r0, r1]\n"
    "lsrs r2, r2, #1\n"
    "bcc 2f\n"
    "subs r5, r5, r4\n"
    "b 3f\n"
    "2:\n"
    "adds r5, r5, r4\n"
    "3:\n"
    "strb r5, [r0, r1]\n"
    "adds r1, #1\n"
    "bne 1b\n"
    "pop {r4, r5, pc}\n"
    "4:\n"
    "lsrs r2, r2, #1\n"
    "adds r1, #1\n"
    "bne 1b\n"
    "pop {r4, r5, pc}\n"
    QNN_ASM_END(qnn_unperturb_s8_m0));
#define unperturb_s8 qnn_unperturb_s8_m0
#else
static void unperturb_s8(int8_t *t, size_t count, uint32_t bits, uint32_t alone, uint32_t step) {
    for (uint32_t bit = 1; bit < 1u << count; bit <<= 1, t++, bits >>= 1) {
        if (!(alone & bit)) {
            *t = (int8_t)(uint8_t)((uint32_t)*t - ((bits & 1u) ? step : 0u - step));
        }
    }
}
#endif

// Not inlined, as perturb_s32.
__attribute__((noinline)) static void unperturb_s32(int32_t *t, size_t count, uint32_t bits, uint32_t alone, uint32_t step) {
    for (size_t j = 0; j < count; j++, bits >>= 1, alone >>= 1) {
        if (!(alone & 1u)) {
            t[j] = (int32_t)((uint32_t)t[j] - ((bits & 1u) ? step : 0u - step));
        }
    }
}

int qnn_unperturb(qnn_any_t t, qnn_cs8_t mask, int32_t seed, int32_t sigma, int32_t sign) {
    int status = perturbation_status(t, mask.n, seed, sigma, sign);
    if (status != QNN_OK) {
        return status;
    }
    uint32_t step = (uint32_t)(sign * sigma);
    uint32_t state = qnn_xorshift_start(seed), bits = 0;
    for (size_t i = 0; i < t.n; i += 8, bits >>= 8) {
        if (i % 32 == 0) {
            bits = qnn_xorshift_next(&state);
        }
        size_t count = t.n - i < 8 ? t.n - i : 8;
        uint32_t alone = (uint8_t)mask.p[i / 8];
        if (t.size == 1) {
            unperturb_s8((int8_t *)t.p + i, count, bits, alone, step);
        } else {
            unperturb_s32((int32_t *)t.p + i, count, bits, alone, step);
        }
    }
    return QNN_OK;
}
