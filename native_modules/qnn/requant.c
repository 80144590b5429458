#include "qnn.h"

// TFLite / CMSIS-NN rounding: a rounding doubling high multiply by a Q31 multiplier, then a
// rounding arithmetic right shift (ties away from zero). Multipliers are >= 0 (the callers check
// qnn_requant_params_ok), so TFLite's one saturating case, both factors INT32_MIN, cannot occur.

// floor((a * b + 2^30) / 2^31), b >= 0: TFLite adds 2^30 to a product >= 0 and 1 - 2^30 to a
// negative one, then divides by 2^31 truncating, which for either sign is this floor.
static int32_t high_mul(int32_t a, int32_t b) {
#if defined(__ARM_ARCH_6M__)
    // The Cortex-M0 multiplies only 32 by 32 into 32 bits (libgcc's 64-bit multiply costs about
    // 45 instructions): the product from the factors' 16-bit halves, every partial product within
    // 32 bits, summed from bit 15 up: floor of the whole by 2^16 first, then by 2^15.
    int32_t ah = a >> 16, bh = b >> 16;
    uint32_t al = (uint32_t)a & 0xFFFF, bl = (uint32_t)b & 0xFFFF;
    int32_t hl = ah * (int32_t)bl;                            // |hl| < 2^31
    uint32_t low = al * (uint32_t)bh + ((al * bl) >> 16) + (1u << 14);  // < 2^31
    // Modulo 2^32: the true result fits int32 (|a * b / 2^31| <= |a|).
    return (int32_t)((uint32_t)(ah * bh) * 2 + (uint32_t)(hl >> 15) + ((((uint32_t)hl & 0x7FFF) + low) >> 15));
#else
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << 30)) >> 31);
#endif
}

int32_t qnn_requantize(int32_t acc, int32_t multiplier, int32_t shift) {
    int exponent = 0;
    if (shift > 0) {
        // The left shift saturates instead of overflowing (TFLite leaves that case undefined).
        acc = acc > (INT32_MAX >> shift) ? INT32_MAX
            : acc < (INT32_MIN >> shift) ? INT32_MIN : (int32_t)((uint32_t)acc << shift);
    } else {
        exponent = -shift;
    }
    // One path for both signs of shift: dividing by 2^0 changes nothing.
    return qnn_rounding_divide_by_pot(high_mul(acc, multiplier), exponent);
}

int32_t qnn_requantize_shifted(int32_t d, int32_t left_shift, int32_t multiplier, int32_t shift) {
#if defined(__ARM_ARCH_6M__)
    if (left_shift >= 15 && shift <= 0) {
        // d * bh * 2^(16 + left_shift) is a whole multiple of 2^31: high_mul's floor splits there,
        // and neither product leaves int32 (|d * bh| < 2^23, |d * bl| < 2^24). Where a 64-bit
        // multiply is one instruction, high_mul's is as fast.
        int32_t bh = multiplier >> 16, bl = multiplier & 0xFFFF;
        int32_t high = (int32_t)((uint32_t)(d * bh) << (left_shift - 15))
                       + ((d * bl + ((int32_t)1 << (30 - left_shift))) >> (31 - left_shift));
        return qnn_rounding_divide_by_pot(high, -shift);
    }
#endif
    return qnn_requantize(d * ((int32_t)1 << left_shift), multiplier, shift);
}

int qnn_requant_params_ok(const int32_t *multiplier, const int32_t *shift, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (multiplier[i] < 0 || shift[i] < -31 || shift[i] > 30) {
            return 0;
        }
    }
    return 1;
}
