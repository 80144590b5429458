// Forward ops for the harness: call_* runs a kernel on buffers sized for its params block
// (fuzzed lengths in hostile calls), fuzz_* picks random params first.
#include "fuzz_kernels.h"

int call_fully_connected(fuzz_t *f, const int32_t *p) {
    int32_t batch = p[0], in_n = p[1], out_n = p[2];
    qnn_s8_t out = fuzz_s8(f, (size_t)batch * out_n);
    qnn_cs8_t x = fuzz_cs8(f, (size_t)batch * in_n), w = fuzz_cs8(f, (size_t)out_n * in_n);
    qnn_cs32_t bias = fuzz_cs32(f, out_n), mult = fuzz_multipliers(f, out_n), shift = fuzz_shifts(f, out_n);
    return qnn_fully_connected_s8(out, x, w, bias, mult, shift, fuzz_params(f, p, 7));
}

void fuzz_fully_connected(fuzz_t *f) {
    int32_t act_min = fuzz_range(f, -128, 127);
    int32_t p[] = {fuzz_range(f, 1, 3), fuzz_range(f, 1, 40), fuzz_range(f, 1, 20), fuzz_range(f, -128, 127),
                   fuzz_range(f, -128, 127), act_min, fuzz_range(f, act_min, 127)};
    fuzz_done(f, call_fully_connected(f, p));
}
