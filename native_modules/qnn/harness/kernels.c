// The table of kernels the fuzzer and the benchmark know.
#include "fuzz_kernels.h"

#define HARNESS_ENTRY(op, n) {#op, fuzz_##op, call_##op, n},
const harness_kernel_t harness_kernels[] = {HARNESS_KERNELS(HARNESS_ENTRY)};

const int harness_kernel_count = sizeof(harness_kernels) / sizeof(harness_kernels[0]);
