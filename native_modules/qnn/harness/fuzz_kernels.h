// Per kernel: call_<op> runs it on buffers sized from a params block (used by the fuzzer and
// the benchmark), fuzz_<op> picks random params and calls it.
#ifndef QNN_FUZZ_KERNELS_H
#define QNN_FUZZ_KERNELS_H

#include "fuzz_support.h"

typedef struct {
    const char *name;
    void (*fuzz)(fuzz_t *f);
    int (*call)(fuzz_t *f, const int32_t *params);
    int n_params;
} harness_kernel_t;

extern const harness_kernel_t harness_kernels[];
extern const int harness_kernel_count;

int call_fully_connected(fuzz_t *f, const int32_t *p);
void fuzz_fully_connected(fuzz_t *f);

#endif
