// Host fuzz harness: drives every kernel with random shapes, parameters and buffer lengths.
// Built with -fsanitize=address,undefined (see Makefile): any access outside the given
// buffers or any undefined behaviour aborts with a report. Usage: fuzz CALLS [SEED]
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_kernels.h"

typedef void (*generator_t)(fuzz_t *);

static const struct {
    const char *name;
    generator_t run;
} kernels[] = {
    {"fully_connected", fuzz_fully_connected},
};

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CALLS [SEED]\n", argv[0]);
        return 2;
    }
    long calls = atol(argv[1]);
    fuzz_t f = {.state = argc > 2 ? strtoull(argv[2], NULL, 10) * 2654435761u + 1 : 1};
    size_t count = sizeof(kernels) / sizeof(kernels[0]);
    for (size_t k = 0; k < count; k++) {
        uint64_t ok = f.ok, rejected = f.rejected;
        for (long i = 0; i < calls / (long)count + (k < (size_t)(calls % (long)count)); i++) {
            kernels[k].run(&f);
        }
        printf("%-28s %8llu ok %8llu rejected\n", kernels[k].name,
               (unsigned long long)(f.ok - ok), (unsigned long long)(f.rejected - rejected));
    }
    printf("%llu calls, no sanitizer report\n", (unsigned long long)f.calls);
    return 0;
}
