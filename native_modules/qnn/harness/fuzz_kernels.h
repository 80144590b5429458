// One generator per kernel; fuzz.c calls them in turn.
#ifndef QNN_FUZZ_KERNELS_H
#define QNN_FUZZ_KERNELS_H

#include "fuzz_support.h"

void fuzz_fully_connected(fuzz_t *f);

#endif
