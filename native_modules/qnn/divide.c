// 64-bit division in plain C (divide.h says why).
#include "divide.h"

uint64_t qnn_divide_u64(uint64_t n, uint64_t d, uint64_t *remainder) {
    uint64_t quotient = 0, bit = 1;
    while (d < n && !(d >> 63)) {
        d <<= 1;
        bit <<= 1;
    }
    for (; bit; d >>= 1, bit >>= 1) {
        if (n >= d) {
            n -= d;
            quotient |= bit;
        }
    }
    *remainder = n;
    return quotient;
}
