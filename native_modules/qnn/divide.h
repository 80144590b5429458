// 64-bit division in plain C. libgcc's 64-bit division (__aeabi_uldivmod) brings unwind tables
// (.ARM.exidx) that MicroPython's Cortex-M linker scripts do not place, so qnn could not be
// built into firmware with it; and a Cortex-M0 has no divide instruction either way.
#ifndef QNN_DIVIDE_H
#define QNN_DIVIDE_H

#include <stdint.h>

// n / d for d >= 1, with n % d in *remainder: shift and subtract, one step per quotient bit.
uint64_t qnn_divide_u64(uint64_t n, uint64_t d, uint64_t *remainder);

#endif
