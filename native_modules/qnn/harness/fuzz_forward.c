// Fuzz generators for the forward ops: random shapes, parameters and buffer lengths.
#include "fuzz_support.h"
#include "fuzz_kernels.h"

void fuzz_fully_connected(fuzz_t *f) {
    int32_t batch = fuzz_range(f, 1, 3), in_n = fuzz_range(f, 1, 40), out_n = fuzz_range(f, 1, 20);
    int32_t act_min = fuzz_range(f, -128, 127), act_max = fuzz_range(f, act_min, 127);
    int32_t p[] = {batch, in_n, out_n, fuzz_range(f, -128, 127), fuzz_range(f, -128, 127), act_min, act_max};
    qnn_s8_t out = fuzz_s8(f, (size_t)batch * out_n);
    qnn_cs8_t x = fuzz_cs8(f, (size_t)batch * in_n), w = fuzz_cs8(f, (size_t)out_n * in_n);
    qnn_cs32_t bias = fuzz_cs32(f, out_n), mult = fuzz_multipliers(f, out_n), shift = fuzz_shifts(f, out_n);
    fuzz_done(f, qnn_fully_connected_s8(out, x, w, bias, mult, shift, fuzz_params(f, p, 7)));
}
