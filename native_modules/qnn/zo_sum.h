// One element of a zeroth-order estimate, sum_q coeffs[q] * u_q[i] with u_q[i] = +-1: what
// zo_update and zo_node_gradient regenerate for every element instead of storing an estimate.
#ifndef QNN_ZO_SUM_H
#define QNN_ZO_SUM_H

#include <stddef.h>
#include <stdint.h>

// Whether the magnitudes of c[0 .. n) sum within int32: then so does every sum of +-c[q].
int qnn_signed_sums_narrow(const int32_t *c, size_t n);
// sum_q +-c[q], + where bit k of bits[q] is set, exact: in one int32 register where `narrow`
// (qnn_signed_sums_narrow), which a step's loss differences always are, else in int64.
int64_t qnn_signed_sum(const uint32_t *bits, const int32_t *c, size_t n, int k, int narrow);

#endif
