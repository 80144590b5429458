// Plain SGD on int8 or int32 weights with a per-channel step size in fixed point. Stochastic
// rounding keeps steps smaller than one weight LSB from vanishing: their expectation survives.
#include "asm_function.h"
#include "update.h"

#if defined(__ARM_ARCH_6M__)
// The trainers' steps shift by 51 to 56 with stochastic rounding, where the int64 product and
// shifts took the Cortex-M0 145 to 150 instructions an int8 element (libgcc's 64-bit multiply and
// shifts, and GCC 12's spills around them); this loop takes 55. For shift = 32 + t, t in
// [1, 30]: the product p = d * multiplier from 16-bit halves (|d| <= 2^31, multiplier < 2^31, so
// |p| < 2^62) as two words, negated by its sign's mask, floor(p / 2^t) shifted as two words, and
// the stream's output added with its carry into the high word: floor((p + out 2^t) / 2^(32 + t)),
// qnn_round_shift's stochastic rounding, since floors of divisions by powers of two compose.
// void qnn_sgd_s8_m0(int8_t *w, const int32_t *g, int32_t n, uint32_t *state, int32_t multiplier,
//                    int32_t t), n >= 1.
void qnn_sgd_s8_m0(int8_t *w, const int32_t *g, int32_t n, uint32_t *state, int32_t multiplier, int32_t t);
__asm__(
    QNN_ASM_BEGIN(qnn_sgd_s8_m0)
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
    QNN_ASM_END(qnn_sgd_s8_m0));
#endif

// Elements [i, end) of one channel.
static void update_run(qnn_update_t *u, qnn_any_t w, const int32_t *g, int32_t i, int32_t end, int32_t multiplier,
                       int32_t shift) {
#if defined(__ARM_ARCH_6M__)
    if (w.size == 1 && u->state != NULL && shift > 32) {
        qnn_sgd_s8_m0((int8_t *)w.p + i, g + i, end - i, u->state, multiplier, shift - 32);
        return;
    }
#endif
    for (; i < end; i++) {
        qnn_update_element(u, w, i, g[i], multiplier, shift);
    }
}

int qnn_sgd_update(qnn_any_t w, qnn_cs32_t g, qnn_cs32_t step_multiplier, qnn_cs32_t step_shift,
                   qnn_cs32_t params) {
    qnn_update_t u;
    int status = qnn_update_start(&u, w, params, 1);
    if (status != QNN_OK) {
        return status;
    }
    if (g.n != (size_t)u.count) {
        return QNN_ERR_AUX_LEN;
    }
    if ((status = qnn_update_steps_ok(&u, step_multiplier, step_shift)) != QNN_OK) {
        return status;
    }
    // Channel c's elements are runs of `inner`, the channels in turn (no divider on a Cortex-M0).
    for (int32_t i = 0, c = 0; i < u.count; c = c + 1 == u.channels ? 0 : c + 1) {
        int32_t end = u.count - i < u.inner ? u.count : i + u.inner;
        update_run(&u, w, g.p, i, end, step_multiplier.p[c], step_shift.p[c]);
        i = end;
    }
    return QNN_OK;
}
