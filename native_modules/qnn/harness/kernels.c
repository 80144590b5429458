// The table of kernels the fuzzer and the benchmark know.
#include "fuzz_kernels.h"

const harness_kernel_t harness_kernels[] = {
    {"fully_connected", fuzz_fully_connected, call_fully_connected, 7},
};

const int harness_kernel_count = sizeof(harness_kernels) / sizeof(harness_kernels[0]);
