// qnn_grad_axpy_sat (gradient.h): the update of a result that takes one product per element (a
// one-sample fully connected weight gradient), saturated as it is added, which is exact (there is
// no further sum to carry) and spares the check that every start leaves room (qnn_grad_fits), a
// scan that cost more than the products.
#include "asm_function.h"
#include "gradient.h"

#if defined(__ARM_FEATURE_DSP)
// Cortex-M4/M7: four elements per step, 15 instructions: SXTAB16 gives bytes 0 and 2 (1 and 3,
// rotated by 8) minus zp as 16-bit lanes, SMULBB/SMULTB multiply one lane by g, QADD adds with
// saturation, LDM/STM move the four results.
__asm__(
    QNN_ASM_BEGIN(qnn_grad_axpy_sat)
    "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n"
    "ldr r6, [sp, #36]\n"         // n
    "negs r5, r2\n"
    "uxth r5, r5\n"
    "orr r5, r5, r5, lsl #16\n"   // -zp in both lanes
    "lsrs r12, r6, #2\n"
    "beq 2f\n"
    "1:\n"
    "ldr r7, [r1], #4\n"
    "sxtab16 r8, r5, r7\n"
    "sxtab16 r9, r5, r7, ror #8\n"
    "smulbb r4, r8, r3\n"         // element 0's product
    "smulbb r7, r9, r3\n"         // 1's
    "smultb r10, r8, r3\n"        // 2's
    "smultb r11, r9, r3\n"        // 3's
    "ldm r0, {r2, r8, r9, lr}\n"  // the results, r2 lowest (-zp waits in r5)
    "qadd r2, r2, r4\n"
    "qadd r8, r8, r7\n"
    "qadd r9, r9, r10\n"
    "qadd lr, lr, r11\n"
    "stm r0!, {r2, r8, r9, lr}\n"
    "subs r12, #1\n"
    "bne 1b\n"
    "and r6, r6, #3\n"
    "2:\n"
    "sxth r2, r5\n"               // -zp
    "cbz r6, 9f\n"
    "3:\n"
    "ldrsb r4, [r1], #1\n"
    "adds r4, r4, r2\n"
    "mul r4, r4, r3\n"
    "ldr r7, [r0]\n"
    "qadd r7, r7, r4\n"
    "str r7, [r0], #4\n"
    "subs r6, #1\n"
    "bne 3b\n"
    "9:\n"
    "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n"
    QNN_ASM_END(qnn_grad_axpy_sat));
#elif defined(__ARM_ARCH_6M__)
// Cortex-M0: scatter.c's two-element loop of qnn_grad_axpy with each add's overflow (V) sending
// the result to its end of int32, 8 instructions an element. The end: a wrapped sum has the sign
// opposite the true one, so (sum >> 31) ^ 2^31 is INT32_MAX for a positive overflow and INT32_MIN
// for a negative one.
#define SATURATE(sum, scratch) "asrs " scratch ", " sum ", #31\n" "movs " sum ", #1\n" \
    "lsls " sum ", " sum ", #31\n" "eors " sum ", " scratch "\n"
__asm__(
    QNN_ASM_BEGIN(qnn_grad_axpy_sat)
    "push {r4, r5, r6, r7, lr}\n"
    "ldr r4, [sp, #20]\n"         // n
    "cmp r4, #0\n"
    "beq 9f\n"
    "negs r2, r2\n"
    "mov r12, r2\n"               // -zp
    "adds r1, r1, r4\n"           // the end of a
    "negs r2, r4\n"               // i = -n
    "lsrs r4, r4, #1\n"           // carry: n is odd; one element first, then pairs
    "bcc 1f\n"
    "ldrsb r4, [r1, r2]\n"
    "add r4, r12\n"
    "muls r4, r3, r4\n"
    "ldr r5, [r0]\n"
    "adds r5, r5, r4\n"
    "bvs 5f\n"
    "3:\n"
    "stm r0!, {r5}\n"
    "adds r2, #1\n"
    "beq 9f\n"
    "1:\n"
    "ldrsb r4, [r1, r2]\n"
    "adds r2, #1\n"
    "ldrsb r6, [r1, r2]\n"
    "add r4, r12\n"
    "add r6, r12\n"
    "muls r4, r3, r4\n"
    "muls r6, r3, r6\n"
    "ldr r5, [r0]\n"
    "ldr r7, [r0, #4]\n"
    "adds r5, r5, r4\n"
    "bvs 6f\n"
    "4:\n"
    "adds r7, r7, r6\n"
    "bvs 7f\n"
    "8:\n"
    "stm r0!, {r5, r7}\n"
    "adds r2, #1\n"
    "bne 1b\n"
    "9:\n"
    "pop {r4, r5, r6, r7, pc}\n"
    "5:\n" SATURATE("r5", "r4") "b 3b\n"
    "6:\n" SATURATE("r5", "r4") "b 4b\n"
    "7:\n" SATURATE("r7", "r6") "b 8b\n"
    QNN_ASM_END(qnn_grad_axpy_sat));
#else
// Every other core and the host harness: the product fits int32 (g within int16), and the add's
// overflow picks the end, as on the Cortex-M0 (a 64-bit sum cost the Cortex-M3 a quarter more).
void qnn_grad_axpy_sat(int32_t *dst, const int8_t *a, int32_t zp, int32_t g, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int32_t product = ((int32_t)a[i] - zp) * g, sum;
        dst[i] = __builtin_add_overflow(dst[i], product, &sum) ? (product < 0 ? INT32_MIN : INT32_MAX) : sum;
    }
}
#endif
