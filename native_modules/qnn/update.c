// The weight update sgd_update and zo_update share (update.h), one channel's run of elements at a
// time.
#include "asm_function.h"
#include "update.h"

// w[i] -= round(d * multiplier / 2^shift), saturated; |d| < 2^31 keeps the product below 2^62.
static void update_element(qnn_update_t *u, qnn_any_t w, int32_t i, int64_t d, int32_t multiplier,
                           int32_t shift) {
    int64_t v = (w.size == 1 ? ((int8_t *)w.p)[i] : ((int32_t *)w.p)[i])
        - qnn_round_shift(d * multiplier, shift, u->state);
    if (w.size == 1) {
        ((int8_t *)w.p)[i] = (int8_t)(v < -127 ? -127 : (v > 127 ? 127 : v));
    } else {
        ((int32_t *)w.p)[i] = (int32_t)(v < INT32_MIN ? INT32_MIN : (v > INT32_MAX ? INT32_MAX : v));
    }
}

#if defined(__ARM_ARCH_6M__)
// The trainers' int8 steps shift by 51 to 56 with stochastic rounding, where the int64 product and
// shifts took the Cortex-M0 145 to 150 instructions an int8 element (libgcc's 64-bit multiply and
// shifts, and GCC 12's spills around them); this loop takes 55. For shift = 32 + t, t in
// [1, 30]: the product p = d * multiplier from 16-bit halves (|d| <= 2^31, multiplier < 2^31, so
// |p| < 2^62) as two words, negated by its sign's mask, floor(p / 2^t) shifted as two words, and
// the stream's output added with its carry into the high word: floor((p + out 2^t) / 2^(32 + t)),
// qnn_round_shift's stochastic rounding, since floors of divisions by powers of two compose.
// void qnn_update_s8_m0(int8_t *w, const int32_t *g, int32_t n, uint32_t *state, int32_t multiplier,
//                       int32_t t), n >= 1.
void qnn_update_s8_m0(int8_t *w, const int32_t *g, int32_t n, uint32_t *state, int32_t multiplier, int32_t t);
__asm__(
    QNN_ASM_BEGIN(qnn_update_s8_m0)
    "push {r4, r5, r6, r7, lr}\n"
    SAVE_HIGH_REGISTERS           // multiplier at [sp, #36], t at [sp, #40]
    "ldr r4, [sp, #36]\n"
    "uxth r5, r4\n"
    "mov r8, r5\n"               // the multiplier's low half
    "lsrs r4, r4, #16\n"
    "mov r9, r4\n"               // its high half
    "ldr r4, [sp, #40]\n"
    "mov r10, r4\n"              // t
    "movs r5, #32\n"
    "subs r5, r5, r4\n"
    "mov r11, r5\n"              // 32 - t
    "ldr r4, [r3]\n"
    "mov r12, r4\n"              // the stream's state
    "push {r3}\n"
    "adds r0, r0, r2\n"          // w's end, an index up to 0, g
    "movs r4, r1\n"
    "negs r1, r2\n"
    "movs r2, r4\n"
    "1:\n"
    "ldm r2!, {r3}\n"            // d
    "asrs r4, r3, #31\n"
    "eors r3, r4\n"
    "subs r3, r3, r4\n"          // |d|
    "mov lr, r4\n"               // its sign's mask
    "lsrs r5, r3, #16\n"         // ah
    "uxth r3, r3\n"              // al
    "mov r6, r8\n"
    "muls r6, r3, r6\n"          // al * ml
    "mov r7, r9\n"
    "muls r3, r7, r3\n"          // al * mh
    "muls r7, r5, r7\n"          // ah * mh
    "mov r4, r8\n"
    "muls r4, r5, r4\n"          // ah * ml
    "lsls r5, r3, #16\n"
    "lsrs r3, r3, #16\n"         // (a shift sets the carry: before the add whose carry counts)
    "adds r6, r6, r5\n"
    "adcs r7, r3\n"
    "lsls r5, r4, #16\n"
    "lsrs r4, r4, #16\n"
    "adds r6, r6, r5\n"
    "adcs r7, r4\n"              // p = (r7, r6)
    "mov r4, lr\n"
    "eors r6, r4\n"
    "eors r7, r4\n"
    "subs r6, r6, r4\n"
    "sbcs r7, r4\n"              // d's sign
    "mov r3, r10\n"
    "lsrs r6, r3\n"
    "mov r5, r7\n"
    "mov r4, r11\n"
    "lsls r5, r4\n"
    "orrs r6, r5\n"
    "asrs r7, r3\n"              // floor(p / 2^t)
    "mov r3, r12\n"              // the stream's next output
    "lsls r4, r3, #13\n"
    "eors r3, r4\n"
    "lsrs r4, r3, #17\n"
    "eors r3, r4\n"
    "lsls r4, r3, #5\n"
    "eors r3, r4\n"
    "mov r12, r3\n"
    "adds r6, r6, r3\n"
    "bcc 2f\n"
    "adds r7, #1\n"              // the step
    "2:\n"
    "ldrsb r4, [r0, r1]\n"
    "subs r4, r4, r7\n"
    "movs r5, #127\n"
    "cmp r4, r5\n"
    "ble 3f\n"
    "movs r4, #127\n"
    "b 4f\n"
    "3:\n"
    "cmn r4, r5\n"
    "bge 4f\n"
    "negs r4, r5\n"
    "4:\n"
    "strb r4, [r0, r1]\n"
    "adds r1, #1\n"
    "bne 1b\n"
    "mov r4, r12\n"
    "pop {r3}\n"
    "str r4, [r3]\n"
    RESTORE_HIGH_REGISTERS
    "pop {r4, r5, r6, r7, pc}\n"
    QNN_ASM_END(qnn_update_s8_m0));
#endif

// Elements [i, i + n) of one channel, their gradient g[0 .. n).
static void update_run(qnn_update_t *u, qnn_any_t w, int32_t i, int32_t n, const int32_t *g, int32_t multiplier,
                       int32_t shift) {
#if defined(__ARM_ARCH_6M__)
    if (w.size == 1 && u->state != NULL && shift > 32) {
        qnn_update_s8_m0((int8_t *)w.p + i, g, n, u->state, multiplier, shift - 32);
        return;
    }
#endif
    for (int32_t k = 0; k < n; k++) {
        update_element(u, w, i + k, g[k], multiplier, shift);
    }
}

void qnn_update_apply(qnn_update_t *u, qnn_any_t w, int32_t i, int32_t n, const int32_t *g,
                      const int32_t *multiplier, const int32_t *shift) {
    for (int32_t end = i + n; i < end;) {
        int32_t run = u->inner - u->within < end - i ? u->inner - u->within : end - i;
        update_run(u, w, i, run, g, multiplier[u->channel], shift[u->channel]);
        g += run, i += run, u->within += run;
        if (u->within == u->inner) {
            u->within = 0;
            u->channel = u->channel + 1 == u->channels ? 0 : u->channel + 1;
        }
    }
}
