// One kernel call on buffers sized from a params block, for callgrind to count instructions:
// bench OP P0 P1 ... (the params block of docs/kernels.md). Exits non-zero if the kernel
// rejects the call, so a benchmark never reports the cost of an error path.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_kernels.h"

int main(int argc, char **argv) {
    for (int k = 0; argc > 1 && k < harness_kernel_count; k++) {
        const harness_kernel_t *kernel = &harness_kernels[k];
        if (strcmp(argv[1], kernel->name) != 0) {
            continue;
        }
        if (argc - 2 != kernel->n_params) {
            fprintf(stderr, "%s takes %d params\n", kernel->name, kernel->n_params);
            return 2;
        }
        int32_t params[32];
        for (int i = 0; i < kernel->n_params; i++) {
            params[i] = (int32_t)strtol(argv[i + 2], NULL, 10);
        }
        fuzz_t f = {.state = 1, .grad_size = 1};  // int8 gradients, as the board and NumPy columns use
        int status = kernel->call(&f, params);
        fuzz_done(&f, status);
        return status < 0 ? 1 : 0;
    }
    fprintf(stderr, "usage: %s OP PARAMS...\n", argv[0]);
    return 2;
}
