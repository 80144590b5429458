// A function written in assembly in a C file (the Cortex-M paths of mac.c, scatter.c, grad_dot.c
// and grad_taps.c): its opening and its closing, in Thumb's unified syntax (GCC hands Thumb-1 inline
// assembly over in divided syntax).
#ifndef QNN_ASM_FUNCTION_H
#define QNN_ASM_FUNCTION_H

#define QNN_ASM_BEGIN(name) \
    ".syntax unified\n" ".text\n" ".align 2\n" ".global " #name "\n" ".thumb_func\n" \
    ".type " #name ", %function\n" #name ":\n"
#define QNN_ASM_END(name) ".size " #name ", . - " #name "\n"

// Thumb-1 reaches r8-r11 only through MOV (and ADD, CMP): the Cortex-M0's loops keep their sums
// there, moving them in and out four at a time, and save and restore them for the caller.
#define R4_R7_TO_HIGH "mov r8, r4\n" "mov r9, r5\n" "mov r10, r6\n" "mov r11, r7\n"
#define HIGH_TO_R4_R7 "mov r4, r8\n" "mov r5, r9\n" "mov r6, r10\n" "mov r7, r11\n"
#define SAVE_HIGH_REGISTERS HIGH_TO_R4_R7 "push {r4, r5, r6, r7}\n"
#define RESTORE_HIGH_REGISTERS "pop {r4, r5, r6, r7}\n" R4_R7_TO_HIGH

#endif
