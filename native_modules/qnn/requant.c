#include "qnn.h"

// TFLite / CMSIS-NN rounding: a saturating, rounding doubling high multiply by a Q31
// multiplier, then a rounding arithmetic right shift (ties away from zero).
static int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    // TFLite adds 2^30 to a product >= 0 and 1 - 2^30 to a negative one, then divides by 2^31
    // truncating: for either sign that is floor((ab + 2^30) / 2^31), one add and one shift
    // (a 32-bit core spares the branch and the 64-bit division's sign fix-up).
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

static int32_t rounding_divide_by_pot(int32_t x, int exponent) {
    int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1);  // exponent <= 31
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t qnn_requantize(int32_t acc, int32_t multiplier, int32_t shift) {
    int32_t a = acc;
    if (shift > 0) {
        // The left shift saturates instead of overflowing (TFLite leaves that case undefined).
        int64_t shifted = (int64_t)acc * ((int64_t)1 << shift);
        a = shifted > INT32_MAX ? INT32_MAX : (shifted < INT32_MIN ? INT32_MIN : (int32_t)shifted);
    }
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(a, multiplier), shift > 0 ? 0 : -shift);
}

int qnn_requant_params_ok(const int32_t *multiplier, const int32_t *shift, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (multiplier[i] < 0 || shift[i] < -31 || shift[i] > 30) {
            return 0;
        }
    }
    return 1;
}
