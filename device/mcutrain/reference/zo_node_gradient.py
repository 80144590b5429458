"""Node perturbation's gradient estimate, a block of nodes at a time.

A query perturbs sample b's nodes (a layer's output) by u of seeds[q, b]; the estimate of
dL/dy_b is sum_q coeffs[q, b] * u_q,b, masked where the output sits at a clamp bound
(straight-through). zo_node_gradient regenerates it for the nodes first .. first + count - 1 of
every sample, so a trainer holds the seeds and coefficients of a step, never the whole estimate.
With a period below the node count, u has `period` entries that repeat (node i takes entry
i mod period): a global average pool's output, one entry per channel, perturbed in place of the
layer's output before the pool, whose every position of a channel gets that channel's estimate.
"""

import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference import xorshift
from mcutrain.reference.zo_update import MAX_QUERIES

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def zo_node_gradient(g, y, seeds, coeffs, params):
    """g[b, i] = 0 if y[b, first + i] <= act_min or >= act_max, else
    sat32(sum_q coeffs[q, b] * u(seeds[q, b])[(first + i) mod period]), overwriting g. The sum is
    exact.

    params: [batch, nodes, first, act_min, act_max, period] with period dividing nodes; g int32
    [batch, count] (count >= 1 and first + count <= nodes), y int8 [batch, nodes] (the unperturbed
    output), seeds and coeffs int32 [queries, batch] with 1 <= queries <= 128 and each seed in
    [0, 2^30). Returns 0."""
    op = "zo_node_gradient"
    g, y = B.s32(g, "g"), B.s8(y, "y")
    seeds, coeffs = B.s32(seeds, "seeds"), B.s32(coeffs, "coeffs")
    batch, nodes, first, act_min, act_max, period = B.params(op, params, 6)
    B.require(op, batch >= 1 and nodes >= 1 and first >= 0 and B.int8_range(act_min, act_max)
              and act_min <= act_max and 1 <= period <= nodes and nodes % period == 0, "params")
    count = len(g) // batch
    B.require(op, count >= 1 and len(g) == batch * count and first + count <= nodes, "output")
    B.require(op, len(y) == batch * nodes, "input")
    queries = len(seeds) // batch
    B.require(op, 1 <= queries <= MAX_QUERIES and len(seeds) == queries * batch and len(coeffs) == len(seeds), "aux")
    B.require(op, bool(np.all(seeds >= 0) and np.all(seeds < xorshift.SEED_LIMIT)), "params")
    y = y.reshape(batch, nodes)[:, first:first + count]
    total = np.zeros((batch, count), dtype=np.int64)
    for q in range(queries):
        for b in range(batch):
            # The whole sample's u, as perturb drew it, repeated over the nodes.
            u = np.tile(xorshift.rademacher(int(seeds[q * batch + b]), period), nodes // period)
            total[b] += int(coeffs[q * batch + b]) * u[first:first + count]
    total[(y <= act_min) | (y >= act_max)] = 0
    g[...] = np.clip(total, INT32_MIN, INT32_MAX).ravel()
    return 0
