// What the Cortex-M4/M7 paths (DSP extension) share: word loads at any alignment and the byte-pair
// sign extensions with their built-in rotation.
#ifndef QNN_DSP_H
#define QNN_DSP_H

#include <arm_acle.h>
#include <stdint.h>
#include <string.h>

// Four int8 of a buffer at any alignment (the Cortex-M4 loads unaligned words; a cast pointer
// would break C's aliasing and alignment rules).
static inline uint32_t load4(const int8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

// SXTB16 and SXTAB16 with their built-in rotation by 8 (bytes 1 and 3): GCC 12's arm_acle.h has
// neither __ror nor a way to fold a rotation into them, which costs a ROR per use (as CMSIS-Core's
// __SXTB16_RORn, an instruction of inline assembly).
static inline int32_t sxtb16_ror8(uint32_t v) {
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

static inline int32_t sxtab16_ror8(uint32_t a, uint32_t v) {
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(v));
    return r;
}

#endif
