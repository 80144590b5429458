// A function written in assembly in a C file (the Cortex-M paths of mac.c and scatter.c): its
// opening and its closing, in Thumb's unified syntax (GCC hands Thumb-1 inline assembly over in
// divided syntax).
#ifndef QNN_ASM_FUNCTION_H
#define QNN_ASM_FUNCTION_H

#define QNN_ASM_BEGIN(name) \
    ".syntax unified\n" ".text\n" ".align 2\n" ".global " #name "\n" ".thumb_func\n" \
    ".type " #name ", %function\n" #name ":\n"
#define QNN_ASM_END(name) ".size " #name ", . - " #name "\n"

#endif
