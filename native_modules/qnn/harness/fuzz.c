// Host fuzz harness: drives every kernel with random shapes, parameters and buffer lengths.
// Built with -fsanitize=address,undefined (see Makefile): any access outside the given
// buffers or any undefined behaviour aborts with a report. Usage: fuzz CALLS [SEED]
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_kernels.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CALLS [SEED]\n", argv[0]);
        return 2;
    }
    long calls = atol(argv[1]);
    fuzz_t f = {.state = argc > 2 ? strtoull(argv[2], NULL, 10) * 2654435761u + 1 : 1, .scratch = 1};
    for (int k = 0; k < harness_kernel_count; k++) {
        uint64_t ok = f.ok, rejected = f.rejected;
        long share = calls / harness_kernel_count + (k < calls % harness_kernel_count);
        for (long i = 0; i < share; i++) {
            harness_kernels[k].fuzz(&f);
        }
        printf("%-28s %8llu ok %8llu rejected\n", harness_kernels[k].name,
               (unsigned long long)(f.ok - ok), (unsigned long long)(f.rejected - rejected));
    }
    printf("%llu calls, no sanitizer report\n", (unsigned long long)f.calls);
    return 0;
}
