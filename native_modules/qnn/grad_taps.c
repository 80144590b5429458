// qnn_grad_taps (gradient.h): the depthwise input gradient's loop over a table of taps, one path
// per core, each giving the plain loop's sums exactly (int32 arithmetic wrapping modulo 2^32).
#include "asm_function.h"
#include "gradient.h"

#if defined(__ARM_FEATURE_DSP) || defined(__ARM_ARCH_6M__)
// The assembly below reads qnn_grad_taps_t's fields at these offsets.
#include <stddef.h>
_Static_assert(offsetof(qnn_grad_taps_t, e) == 4 && offsetof(qnn_grad_taps_t, at) == 8
               && offsetof(qnn_grad_taps_t, taps) == 12 && offsetof(qnn_grad_taps_t, taps_end) == 16
               && offsetof(qnn_grad_taps_t, pixels) == 20 && offsetof(qnn_grad_taps_t, n) == 24,
               "qnn_grad_taps_t's layout");
#endif

#if defined(__ARM_FEATURE_DSP)
#include "dsp.h"

// Cortex-M4/M7: an entry is the offset and the weights as SXTB16's lane pairs (channels 0 and 2,
// 1 and 3), which SMLABB and SMLATT multiply by the error's lanes one each: 10 instructions a tap.
void qnn_grad_tap_entry(int32_t *entry, int32_t offset, const int8_t *w) {
    uint32_t word = load4(w);
    entry[0] = offset, entry[1] = __sxtb16(word), entry[2] = sxtb16_ror8(word);
}

// void qnn_grad_taps(const qnn_grad_taps_t *t): one LDM an entry (r3-r5), the error's lanes in
// r6 and r7; the sums in r8-r11, which a pixel's first entry sets, stored with one STM a pixel.
#define ENTRY_LANES "ldm r2!, {r3, r4, r5}\n" "ldr r0, [r1, r3]\n" "sxtb16 r6, r0\n" "sxtb16 r7, r0, ror #8\n"
__asm__(
    QNN_ASM_BEGIN(qnn_grad_taps)
    "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n"
    "ldr r1, [r0, #4]\n"
    "ldr r2, [r0, #8]\n"
    "add r1, r1, r2\n"            // the first pixel's errors
    "ldr r12, [r0, #12]\n"
    "ldr lr, [r0, #16]\n"
    "ldr r2, [r0, #0]\n"
    "ldr r3, [r0, #20]\n"
    "ldr r4, [r0, #24]\n"
    "push {r2, r3, r4}\n"         // [sp]: acc; [sp, #4]: pixels left; [sp, #8]: n
    "3:\n"
    "mov r2, r12\n"
    ENTRY_LANES
    "smulbb r8, r6, r4\n"
    "smultt r10, r6, r4\n"
    "smulbb r9, r7, r5\n"
    "smultt r11, r7, r5\n"
    "b 2f\n"
    "1:\n"
    ENTRY_LANES
    "smlabb r8, r6, r4, r8\n"
    "smlatt r10, r6, r4, r10\n"
    "smlabb r9, r7, r5, r9\n"
    "smlatt r11, r7, r5, r11\n"
    "2:\n"
    "cmp r2, lr\n"
    "bne 1b\n"
    "ldm sp, {r0, r3, r4}\n"
    "stm r0, {r8, r9, r10, r11}\n"
    "add r0, r0, r4, lsl #2\n"
    "add r1, r1, r4\n"
    "subs r3, #1\n"
    "stm sp, {r0, r3}\n"
    "bne 3b\n"
    "add sp, #12\n"
    "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n"
    QNN_ASM_END(qnn_grad_taps));
#else
// Every other core and the host harness: an entry is the offset and the four weights.
void qnn_grad_tap_entry(int32_t *entry, int32_t offset, const int8_t *w) {
    entry[0] = offset, entry[1] = w[0], entry[2] = w[1], entry[3] = w[2], entry[4] = w[3];
}

#if defined(__ARM_ARCH_6M__)
// Cortex-M0: 18 instructions a tap. One LDM takes an entry's offset (r3) and weights (r4-r7);
// Thumb-1 loads a signed byte only from base + register, so the offset steps a byte a channel.
// The sums live in r8-r11; the table's start waits in r12, its end in lr.
// void qnn_grad_taps(const qnn_grad_taps_t *t)
__asm__(
    QNN_ASM_BEGIN(qnn_grad_taps)
    "push {r4, r5, r6, r7, lr}\n"
    SAVE_HIGH_REGISTERS
    "sub sp, #16\n"               // [sp]: acc; [sp, #4]: pixels left; [sp, #8]: from a pixel's
                                  // last result to the next one's first; [sp, #12]: n
    "ldr r1, [r0, #0]\n"
    "str r1, [sp]\n"
    "ldr r1, [r0, #20]\n"
    "str r1, [sp, #4]\n"
    "ldr r1, [r0, #24]\n"
    "str r1, [sp, #12]\n"
    "lsls r1, r1, #2\n"
    "subs r1, #16\n"
    "str r1, [sp, #8]\n"
    "ldr r1, [r0, #12]\n"
    "mov r12, r1\n"
    "ldr r1, [r0, #16]\n"
    "mov lr, r1\n"
    "ldr r1, [r0, #4]\n"
    "ldr r2, [r0, #8]\n"
    "adds r1, r1, r2\n"           // the first pixel's errors
    "3:\n"
    "movs r0, #0\n"
    "mov r8, r0\n"
    "mov r9, r0\n"
    "mov r10, r0\n"
    "mov r11, r0\n"
    "mov r2, r12\n"
    "1:\n"
    "ldm r2!, {r3, r4, r5, r6, r7}\n"
    "ldrsb r0, [r1, r3]\n"
    "muls r4, r0, r4\n"
    "add r8, r4\n"
    "adds r3, #1\n"
    "ldrsb r0, [r1, r3]\n"
    "muls r5, r0, r5\n"
    "add r9, r5\n"
    "adds r3, #1\n"
    "ldrsb r0, [r1, r3]\n"
    "muls r6, r0, r6\n"
    "add r10, r6\n"
    "adds r3, #1\n"
    "ldrsb r0, [r1, r3]\n"
    "muls r7, r0, r7\n"
    "add r11, r7\n"
    "cmp r2, lr\n"
    "bne 1b\n"
    "ldr r0, [sp]\n"
    HIGH_TO_R4_R7
    "stm r0!, {r4, r5, r6, r7}\n"
    "ldr r3, [sp, #8]\n"
    "adds r0, r0, r3\n"
    "str r0, [sp]\n"
    "ldr r3, [sp, #12]\n"
    "adds r1, r1, r3\n"
    "ldr r0, [sp, #4]\n"
    "subs r0, #1\n"
    "str r0, [sp, #4]\n"
    "bne 3b\n"
    "add sp, #16\n"
    RESTORE_HIGH_REGISTERS
    "pop {r4, r5, r6, r7, pc}\n"
    QNN_ASM_END(qnn_grad_taps));
#else
void qnn_grad_taps(const qnn_grad_taps_t *t) {
    for (int32_t p = 0; p < t->pixels; p++) {
        uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (const int32_t *k = t->taps; k != t->taps_end; k += QNN_GRAD_TAP_WORDS) {
            const int8_t *e = t->e + (t->at + (ptrdiff_t)p * t->n + k[0]);
            a0 += (uint32_t)(e[0] * k[1]), a1 += (uint32_t)(e[1] * k[2]);
            a2 += (uint32_t)(e[2] * k[3]), a3 += (uint32_t)(e[3] * k[4]);
        }
        int32_t *acc = t->acc + (ptrdiff_t)p * t->n;
        acc[0] = (int32_t)a0, acc[1] = (int32_t)a1, acc[2] = (int32_t)a2, acc[3] = (int32_t)a3;
    }
}
#endif
#endif
