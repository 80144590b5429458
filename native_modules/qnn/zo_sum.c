// Each element's sum over the queries, one register a sum wherever exactness allows: on a 32-bit
// core an int64 sum lived on the stack, 33 instructions a node and query in zo_node_gradient on
// the Cortex-M0 where this takes 18.
#include "zo_sum.h"

int qnn_signed_sums_narrow(const int32_t *c, size_t n) {
    uint64_t magnitudes = 0;
    for (size_t q = 0; q < n; q++) {
        magnitudes += c[q] < 0 ? 0u - (uint32_t)c[q] : (uint32_t)c[q];
    }
    return magnitudes <= INT32_MAX;
}

int64_t qnn_signed_sum(const uint32_t *bits, const int32_t *c, size_t n, int k, int narrow) {
    if (narrow) {
        int32_t sum = 0;
        for (size_t q = 0; q < n; q++) {
            sum += (bits[q] >> k) & 1u ? c[q] : -c[q];
        }
        return sum;
    }
    int64_t sum = 0;
    for (size_t q = 0; q < n; q++) {
        sum += (bits[q] >> k) & 1u ? (int64_t)c[q] : -(int64_t)c[q];
    }
    return sum;
}
