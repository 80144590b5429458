#include "requant.h"

int32_t qnn_requantize(int32_t acc, int32_t multiplier, int32_t shift) {
    return qnn_requantize_inline(acc, multiplier, shift);
}

int qnn_requant_params_ok(const int32_t *multiplier, const int32_t *shift, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (multiplier[i] < 0 || shift[i] < -31 || shift[i] > 30) {
            return 0;
        }
    }
    return 1;
}
