#include "asm_function.h"
#include "gradient.h"

static uint32_t max_abs(qnn_cany_t g) {
    uint32_t largest = 0;
    for (size_t i = 0; i < g.n; i++) {
        int32_t v = qnn_grad_at(g, i);
        uint32_t magnitude = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
        largest = magnitude > largest ? magnitude : largest;
    }
    return largest;
}

static int fits_below(const int32_t *start, size_t start_n, uint64_t terms, uint32_t factor, uint32_t g_max) {
    uint64_t added = terms * factor;  // terms < 2^33, factor <= 255
    if (g_max && added >= ((uint64_t)1 << 31)) {
        return 0;
    }
    added *= g_max;  // below 2^31 times below 2^32
    if (added >= ((uint64_t)1 << 31)) {
        return 0;
    }
    // Every start within +-limit: one unsigned comparison each (a one-sample FC weight gradient
    // reads as many starts as it multiplies).
    uint32_t limit = (uint32_t)(((uint64_t)1 << 31) - 1 - added);
    for (size_t i = 0; i < start_n; i++) {
        if ((uint32_t)start[i] + limit > 2 * limit) {
            return 0;
        }
    }
    return 1;
}

// The bound of g's type first: where it fits, the scan of g (a depthwise gradient reads each
// error about nine times only, so a scan cost it about a third of its time) is not needed.
int qnn_grad_fits(const int32_t *start, size_t start_n, uint64_t terms, uint32_t factor, qnn_cany_t g) {
    uint32_t type_max = g.size == 1 ? 128 : (g.size == 2 ? 32768 : 0);
    return (type_max && fits_below(start, start_n, terms, factor, type_max))
        || fits_below(start, start_n, terms, factor, max_abs(g));
}

#if defined(__ARM_FEATURE_DSP)
// What the Cortex-M4's loops below share: -zp in both lanes of r5 and n / 4 steps in r12 (none:
// to the one-element loop, label 2), and at label 1 a word of a in r8 and r9 as 16-bit lanes less
// zp (bytes 0 and 2, 1 and 3), a stepped on.
#define LANES_M4_ENTRY "negs r5, r2\n" "uxth r5, r5\n" "orr r5, r5, r5, lsl #16\n" "lsrs r12, r6, #2\n" "beq 2f\n" \
    "1:\n" "ldr r7, [r1], #4\n" "sxtab16 r8, r5, r7\n" "sxtab16 r9, r5, r7, ror #8\n"
// The end of the word loop, then the one-element loop's start (label 3): n % 4 elements in r6,
// -zp in r2.
#define LANES_M4_TAIL "subs r12, #1\n" "bne 1b\n" "and r6, r6, #3\n" "2:\n" "sxth r2, r5\n" "cbz r6, 9f\n" "3:\n"

// Cortex-M4/M7: four elements per step, 11 instructions (GCC 12 takes 23 for the same loop in C
// with intrinsics): SXTAB16 gives bytes 0 and 2 (1 and 3, rotated by 8) minus zp as 16-bit lanes,
// SMLABB/SMLATB multiply one lane by g and add, LDM/STM move the four sums. The lanes' products
// need g within 16 bits (the usual int8 or int16 error); the rest, and any other g, take the
// one-element loop.
__asm__(
    QNN_ASM_BEGIN(qnn_grad_axpy)
    "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n"
    "ldr r6, [sp, #36]\n"         // n
    "add r4, r3, #32768\n"
    "cmp r4, #65536\n"
    "bhs 2f\n"                    // g beyond 16 bits: every element in the loop below
    LANES_M4_ENTRY
    "ldm r0, {r4, r7, r10, r11}\n"
    "smlabb r4, r8, r3, r4\n"
    "smlabb r7, r9, r3, r7\n"
    "smlatb r10, r8, r3, r10\n"
    "smlatb r11, r9, r3, r11\n"
    "stm r0!, {r4, r7, r10, r11}\n"
    "subs r12, #1\n"
    "bne 1b\n"
    "and r6, r6, #3\n"
    "2:\n"
    "cbz r6, 9f\n"
    "3:\n"
    "ldrsb r4, [r1], #1\n"
    "subs r4, r4, r2\n"
    "ldr r7, [r0]\n"
    "mla r7, r4, r3, r7\n"
    "str r7, [r0], #4\n"
    "subs r6, #1\n"
    "bne 3b\n"
    "9:\n"
    "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n"
    QNN_ASM_END(qnn_grad_axpy));
#elif defined(__ARM_ARCH_6M__)
// The start of the Cortex-M0's axpy and vmul loops: n (the fifth argument) in r4, returning at
// once for 0; -zp in r12; a from its end, the index r2 = -n.
#define M0_LOOP_ENTRY "push {r4, r5, r6, r7, lr}\n" "ldr r4, [sp, #20]\n" "cmp r4, #0\n" "beq 9f\n" \
    "negs r2, r2\n" "mov r12, r2\n" "adds r1, r1, r4\n" "negs r2, r4\n"
// The end of the Cortex-M0's axpy and vmul loops: the products in r4 and r6 added to dst's next
// two elements, the index r2 stepped, and the return.
#define ADD_PAIR_AND_LOOP "ldr r5, [r0]\n" "ldr r7, [r0, #4]\n" "adds r5, r5, r4\n" "adds r7, r7, r6\n" \
    "stm r0!, {r5, r7}\n" "adds r2, #1\n" "bne 1b\n" "9:\n" "pop {r4, r5, r6, r7, pc}\n"

// Cortex-M0: two elements per step, 7 instructions each (GCC 12's loop takes 10): one index i,
// counting up to 0, reads a from its end (Thumb-1 loads a signed byte only from base + register);
// -zp waits in a high register, which ADD reaches; each pair of results is stored with one STM.
__asm__(
    QNN_ASM_BEGIN(qnn_grad_axpy)
    M0_LOOP_ENTRY
    "lsrs r4, r4, #1\n"           // carry: n is odd; one element first, then pairs
    "bcc 1f\n"
    "ldrsb r4, [r1, r2]\n"
    "add r4, r12\n"
    "muls r4, r3, r4\n"
    "ldr r5, [r0]\n"
    "adds r5, r5, r4\n"
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
    ADD_PAIR_AND_LOOP
    QNN_ASM_END(qnn_grad_axpy));
#else
void qnn_grad_axpy(int32_t *dst, const int8_t *a, int32_t zp, int32_t g, size_t n) {
    for (size_t i = 0; i < n; i++) {
        dst[i] += ((int32_t)a[i] - zp) * g;
    }
}
#endif

// dst[i] += (a[i] - zp) * g[i] for an int8 g: depthwise's gradients with FQT's int8 errors.
void qnn_grad_vmul_s8(int32_t *dst, const int8_t *a, int32_t zp, const int8_t *g, size_t n);
#if defined(__ARM_FEATURE_DSP)
// Cortex-M4/M7: four elements per step, 13 instructions: a and g as 16-bit lanes (bytes 0 and 2,
// 1 and 3), multiplied lane by lane with SMLABB/SMLATT.
__asm__(
    QNN_ASM_BEGIN(qnn_grad_vmul_s8)
    "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n"
    "ldr r6, [sp, #36]\n"         // n
    LANES_M4_ENTRY
    "ldr r2, [r3], #4\n"          // r2 is free here: the lanes of r5 hold -zp
    "sxtb16 lr, r2\n"
    "sxtb16 r2, r2, ror #8\n"
    "ldm r0, {r4, r7, r10, r11}\n"
    "smlabb r4, r8, lr, r4\n"
    "smlabb r7, r9, r2, r7\n"
    "smlatt r10, r8, lr, r10\n"
    "smlatt r11, r9, r2, r11\n"
    "stm r0!, {r4, r7, r10, r11}\n"
    LANES_M4_TAIL
    "ldrsb r4, [r1], #1\n"
    "ldrsb r7, [r3], #1\n"
    "adds r4, r4, r2\n"
    "ldr r8, [r0]\n"
    "mla r8, r4, r7, r8\n"
    "str r8, [r0], #4\n"
    "subs r6, #1\n"
    "bne 3b\n"
    "9:\n"
    "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n"
    QNN_ASM_END(qnn_grad_vmul_s8));
#elif defined(__ARM_ARCH_6M__)
// Cortex-M0: two elements per step, 8 instructions each, as qnn_grad_axpy's loop.
__asm__(
    QNN_ASM_BEGIN(qnn_grad_vmul_s8)
    M0_LOOP_ENTRY
    "adds r3, r3, r4\n"           // the end of g
    "lsrs r4, r4, #1\n"           // carry: n is odd; one element first, then pairs
    "bcc 1f\n"
    "ldrsb r4, [r1, r2]\n"
    "ldrsb r5, [r3, r2]\n"
    "add r4, r12\n"
    "muls r4, r5, r4\n"
    "ldr r5, [r0]\n"
    "adds r5, r5, r4\n"
    "stm r0!, {r5}\n"
    "adds r2, #1\n"
    "beq 9f\n"
    "1:\n"
    "ldrsb r4, [r1, r2]\n"
    "ldrsb r5, [r3, r2]\n"
    "adds r2, #1\n"
    "ldrsb r6, [r1, r2]\n"
    "ldrsb r7, [r3, r2]\n"
    "add r4, r12\n"
    "add r6, r12\n"
    "muls r4, r5, r4\n"
    "muls r6, r7, r6\n"
    ADD_PAIR_AND_LOOP
    QNN_ASM_END(qnn_grad_vmul_s8));
#else
void qnn_grad_vmul_s8(int32_t *dst, const int8_t *a, int32_t zp, const int8_t *g, size_t n) {
    for (size_t i = 0; i < n; i++) {
        dst[i] += ((int32_t)a[i] - zp) * g[i];
    }
}
#endif

void qnn_grad_vmul(int32_t *dst, const int8_t *a, int32_t zp, qnn_cany_t g, size_t at, size_t n) {
    if (g.size == 1) {
        qnn_grad_vmul_s8(dst, a, zp, (const int8_t *)g.p + at, n);
    } else if (g.size == 2) {
        const int16_t *v = (const int16_t *)g.p + at;
        for (size_t i = 0; i < n; i++) {
            dst[i] += ((int32_t)a[i] - zp) * v[i];
        }
    } else {
        const int32_t *v = (const int32_t *)g.p + at;
        for (size_t i = 0; i < n; i++) {
            dst[i] += ((int32_t)a[i] - zp) * v[i];
        }
    }
}

// qnn_grad_axpy_sat: the update of a result that takes one product per element (a one-sample
// fully connected weight gradient), saturated as it is added, which is exact (there is no further
// sum to carry) and spares the check that every start leaves room (qnn_grad_fits), a scan that
// cost more than the products.
#if defined(__ARM_FEATURE_DSP)
// Cortex-M4/M7: four elements per step, 15 instructions: SXTAB16 gives bytes 0 and 2 (1 and 3,
// rotated by 8) minus zp as 16-bit lanes, SMULBB/SMULTB multiply one lane by g, QADD adds with
// saturation, LDM/STM move the four results.
__asm__(
    QNN_ASM_BEGIN(qnn_grad_axpy_sat)
    "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n"
    "ldr r6, [sp, #36]\n"         // n
    LANES_M4_ENTRY
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
    LANES_M4_TAIL
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
// Cortex-M0: 30 instructions for four elements: their results in r4-r7 by one LDM and one STM,
// a's bytes at immediate offsets (unsigned, then sign-extended: no register holds an index), each
// add's overflow (V) sending its result to its end of int32. The end: a wrapped sum has the sign
// opposite the true one, so (sum >> 31) ^ 2^31 is INT32_MAX for a positive overflow and INT32_MIN
// for a negative one. The n % 4 elements left over go first, one at a time in r5.
#define SATURATE(sum) "asrs r2, " sum ", #31\n" "movs " sum ", #1\n" "lsls " sum ", " sum ", #31\n" \
    "eors " sum ", r2\n"
#define SAT_ELEMENT(sum, at, fix, back) "ldrb r2, [r1, #" at "]\n" "sxtb r2, r2\n" "add r2, r12\n" \
    "muls r2, r3, r2\n" "adds " sum ", " sum ", r2\n" "bvs " fix "\n" back ":\n"
__asm__(
    QNN_ASM_BEGIN(qnn_grad_axpy_sat)
    "push {r4, r5, r6, r7, lr}\n"
    "ldr r4, [sp, #20]\n"         // n
    "negs r2, r2\n"
    "mov r12, r2\n"               // -zp
    "adds r2, r1, r4\n"
    "mov lr, r2\n"                // the end of a
    "lsls r4, r4, #30\n"
    "lsrs r4, r4, #30\n"          // n % 4
    "beq 2f\n"
    "3:\n"
    "ldr r5, [r0]\n"
    SAT_ELEMENT("r5", "0", "10f", "20")
    "stm r0!, {r5}\n"
    "adds r1, #1\n"
    "subs r4, #1\n"
    "bne 3b\n"
    "2:\n"
    "cmp r1, lr\n"
    "beq 9f\n"
    "1:\n"
    "ldm r0!, {r4, r5, r6, r7}\n"
    SAT_ELEMENT("r4", "0", "11f", "21")
    SAT_ELEMENT("r5", "1", "12f", "22")
    SAT_ELEMENT("r6", "2", "13f", "23")
    SAT_ELEMENT("r7", "3", "14f", "24")
    "subs r0, #16\n"
    "stm r0!, {r4, r5, r6, r7}\n"
    "adds r1, #4\n"
    "cmp r1, lr\n"
    "bne 1b\n"
    "9:\n"
    "pop {r4, r5, r6, r7, pc}\n"
    "10:\n" SATURATE("r5") "b 20b\n"
    "11:\n" SATURATE("r4") "b 21b\n"
    "12:\n" SATURATE("r5") "b 22b\n"
    "13:\n" SATURATE("r6") "b 23b\n"
    "14:\n" SATURATE("r7") "b 24b\n"
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
