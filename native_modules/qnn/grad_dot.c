// qnn_grad_dot (gradient.h): four results at a time, each loop giving the plain loop's sums
// exactly (int32 arithmetic wrapping modulo 2^32).
#include "asm_function.h"
#include "gradient.h"
#include <string.h>

#if defined(__ARM_FEATURE_DSP)
#include "dsp.h"

// Cortex-M4/M7: the four values as two pairs of 16-bit lanes less zp (SXTAB16, bytes 0 and 2, or 1
// and 3 rotated by 8), each lane times the error with SMLABB/SMLATB; a row ends at its end in v:
// 12 instructions a tap.
static void dot4(uint32_t acc[4], const qnn_grad_dot_t *d) {
    uint32_t offset = (uint32_t)(-d->zp) & 0xFFFF;
    offset |= offset << 16;
    uint32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int8_t *v = d->v, *e = d->e;
    ptrdiff_t span = d->run * d->v_step;
    for (int32_t r = 0; r < d->rows; r++, v += d->v_row, e += d->e_row) {
        const int8_t *et = e;
        for (const int8_t *vt = v; vt != v + span; vt += d->v_step, et += d->e_step) {
            uint32_t values = load4(vt);
            int32_t v02 = __sxtab16(offset, values), v13 = sxtab16_ror8(offset, values), g = *et;
            a0 = (uint32_t)__smlabb(v02, g, (int32_t)a0);
            a1 = (uint32_t)__smlabb(v13, g, (int32_t)a1);
            a2 = (uint32_t)__smlatb(v02, g, (int32_t)a2);
            a3 = (uint32_t)__smlatb(v13, g, (int32_t)a3);
        }
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}
#elif defined(__ARM_ARCH_6M__)
#include <stddef.h>
_Static_assert(offsetof(qnn_grad_dot_t, v_step) == 8 && offsetof(qnn_grad_dot_t, v_row) == 16
               && offsetof(qnn_grad_dot_t, run) == 24 && offsetof(qnn_grad_dot_t, zp) == 32, "qnn_grad_dot_t's layout");

// Cortex-M0: 23 instructions a tap. Thumb-1 loads a signed byte only from base + register, so the
// values load unsigned at offsets 0 to 3 and sign-extend; zp leaves the loop as zp times the sum
// of the errors (r12), taken from each sum at the end: (v - zp) e summed is v e summed less that,
// modulo 2^32 alike. The sums live in r8-r11; a row ends where its end in v (lr) is reached.
// void qnn_grad_dot4_m0(uint32_t acc[4], const qnn_grad_dot_t *d)
void qnn_grad_dot4_m0(uint32_t acc[4], const qnn_grad_dot_t *d);
__asm__(
    QNN_ASM_BEGIN(qnn_grad_dot4_m0)
    "push {r4, r5, r6, r7, lr}\n"
    SAVE_HIGH_REGISTERS
    "sub sp, #16\n"               // [sp]: acc; [sp, #4] and [sp, #8]: from a row's end to the next
                                  // row's start in v and e; [sp, #12]: a row's span in v
    "str r0, [sp]\n"
    "ldm r0!, {r4, r5, r6, r7}\n"
    R4_R7_TO_HIGH
    "movs r0, #0\n"
    "mov r12, r0\n"               // the sum of the errors
    "ldr r4, [r1, #24]\n"         // run
    "ldr r5, [r1, #8]\n"          // v_step
    "movs r3, r5\n"
    "muls r3, r4, r3\n"
    "str r3, [sp, #12]\n"
    "ldr r2, [r1, #16]\n"
    "subs r2, r2, r3\n"
    "str r2, [sp, #4]\n"          // v_row - run * v_step
    "ldr r6, [r1, #12]\n"         // e_step
    "movs r3, r6\n"
    "muls r3, r4, r3\n"
    "ldr r2, [r1, #20]\n"
    "subs r2, r2, r3\n"
    "str r2, [sp, #8]\n"          // e_row - run * e_step
    "ldr r7, [r1, #28]\n"         // rows left
    "ldr r2, [r1, #0]\n"          // v
    "ldr r3, [r1, #4]\n"          // e
    "2:\n"
    "ldr r4, [sp, #12]\n"
    "adds r4, r2, r4\n"
    "mov lr, r4\n"
    "1:\n"
    "ldrb r0, [r3]\n"
    "sxtb r0, r0\n"
    "add r12, r0\n"
    "ldrb r4, [r2]\n"
    "sxtb r4, r4\n"
    "muls r4, r0, r4\n"
    "add r8, r4\n"
    "ldrb r4, [r2, #1]\n"
    "sxtb r4, r4\n"
    "muls r4, r0, r4\n"
    "add r9, r4\n"
    "ldrb r4, [r2, #2]\n"
    "sxtb r4, r4\n"
    "muls r4, r0, r4\n"
    "add r10, r4\n"
    "ldrb r4, [r2, #3]\n"
    "sxtb r4, r4\n"
    "muls r4, r0, r4\n"
    "add r11, r4\n"
    "adds r2, r2, r5\n"
    "adds r3, r3, r6\n"
    "cmp r2, lr\n"
    "bne 1b\n"
    "subs r7, #1\n"
    "beq 9f\n"
    "ldr r4, [sp, #4]\n"
    "adds r2, r2, r4\n"
    "ldr r4, [sp, #8]\n"
    "adds r3, r3, r4\n"
    "b 2b\n"
    "9:\n"
    "ldr r4, [r1, #32]\n"         // zp
    "mov r0, r12\n"
    "muls r4, r0, r4\n"
    "ldr r0, [sp]\n"
    "mov r2, r8\n"
    "subs r2, r2, r4\n"
    "mov r3, r9\n"
    "subs r3, r3, r4\n"
    "mov r5, r10\n"
    "subs r5, r5, r4\n"
    "mov r6, r11\n"
    "subs r6, r6, r4\n"
    "stm r0!, {r2, r3, r5, r6}\n"
    "add sp, #16\n"
    RESTORE_HIGH_REGISTERS
    "pop {r4, r5, r6, r7, pc}\n"
    QNN_ASM_END(qnn_grad_dot4_m0));

static void dot4(uint32_t acc[4], const qnn_grad_dot_t *d) {
    qnn_grad_dot4_m0(acc, d);
}
#else
// Every other core and the host harness: the plain loop, four sums in locals (acc might alias
// the int8 buffers as far as C knows, which would keep every sum in memory).
static void dot4(uint32_t acc[4], const qnn_grad_dot_t *d) {
    uint32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int8_t *v = d->v, *e = d->e;
    for (int32_t r = 0; r < d->rows; r++, v += d->v_row, e += d->e_row) {
        const int8_t *vt = v, *et = e;
        for (int32_t t = 0; t < d->run; t++, vt += d->v_step, et += d->e_step) {
            int32_t g = *et;
            a0 += (uint32_t)(g * ((int32_t)vt[0] - d->zp)), a1 += (uint32_t)(g * ((int32_t)vt[1] - d->zp));
            a2 += (uint32_t)(g * ((int32_t)vt[2] - d->zp)), a3 += (uint32_t)(g * ((int32_t)vt[3] - d->zp));
        }
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}
#endif

void qnn_grad_dot(int32_t *acc, int32_t n, const qnn_grad_dot_t *d) {
    qnn_grad_dot_t group = *d;
    int32_t j = 0;
    for (; j + 4 <= n; j += 4, group.v += 4) {
        dot4((uint32_t *)acc + j, &group);
    }
    for (; j < n; j++, group.v++) {
        uint32_t sum = (uint32_t)acc[j];
        const int8_t *v = group.v, *e = group.e;
        for (int32_t r = 0; r < d->rows; r++, v += d->v_row, e += d->e_row) {
            for (int32_t t = 0; t < d->run; t++) {
                sum += (uint32_t)(e[t * d->e_step] * ((int32_t)v[t * d->v_step] - d->zp));
            }
        }
        acc[j] = (int32_t)sum;
    }
}

int qnn_grad_dense(const int8_t *g, size_t n) {
    size_t nonzero = 0, i = 0;
    for (; i < n && ((uintptr_t)(g + i) & 3); i++) {
        nonzero += g[i] != 0;
    }
    // Whole words: a byte's bit 7 of ((w & 0x7F) + 0x7F) | w is set when the byte is nonzero; the
    // bits, shifted to bit 0, add up per byte over at most 255 words, then across the bytes.
    while (n - i >= 4) {
        size_t end = n - i >= 4 * 255 ? i + 4 * 255 : i + ((n - i) & ~(size_t)3);
        uint32_t lanes = 0;
        for (; i < end; i += 4) {
            uint32_t w;
            memcpy(&w, __builtin_assume_aligned(g + i, 4), 4);
            lanes += ((((w & 0x7F7F7F7Fu) + 0x7F7F7F7Fu) | w) & 0x80808080u) >> 7;
        }
        nonzero += (lanes & 0xFF) + ((lanes >> 8) & 0xFF) + ((lanes >> 16) & 0xFF) + (lanes >> 24);
    }
    for (; i < n; i++) {
        nonzero += g[i] != 0;
    }
    return n - nonzero <= n / 4;
}
