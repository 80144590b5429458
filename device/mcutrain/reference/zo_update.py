"""The zeroth-order update and the seed stream it is driven by.

A ZO step estimates a tensor's gradient as sum_q coeffs[q] * u_q, with u_q the Rademacher vector
of seeds[q] (xorshift.rademacher). zo_update applies that estimate without ever storing it: it
regenerates the n vectors element by element, so a trainer needs n seeds and n coefficients of
memory, not a gradient as large as the tensor.
"""

import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference import xorshift
from mcutrain.reference.update import Update

MAX_QUERIES = 128
GOLDEN = 0x9E3779B9


def seeds(out, state):
    """out int32 [n] = the next n outputs of the stream in state, each >> 2 (30-bit seeds).

    state int32 [1] holds the stream as (xorshift state) ^ 0x9E3779B9: any seed in [0, 2^30)
    is a valid start, and then the stream is the same as that seed's Rademacher stream. The
    kernel writes the advanced state back. Returns 0."""
    out, state = B.s32(out, "out"), B.s32(state, "state")
    B.require("seeds", len(state) == 1, "aux")
    raw = int(state.view(np.uint32)[0]) ^ GOLDEN
    B.require("seeds", raw != 0, "params")
    x = np.array([raw], dtype=np.uint32)
    for i in range(len(out)):
        x = xorshift._step(x)
        out[i] = int(x[0]) >> 2
    state.view(np.uint32)[0] = int(x[0]) ^ GOLDEN
    return 0


def zo_update(w, seeds, coeffs, step_multiplier, step_shift, params):
    """w -= round(sat32(sum_q coeffs[q] * u_q[i]) * step_multiplier[c] / 2^step_shift[c]) with
    c = (i // inner) % channels: sgd_update with the gradient regenerated from the seeds. The sum is
    exact in int64 and saturated to int32 before the step (reference.update.Update.apply).

    params: as sgd_update's, [count, channels, inner, stochastic (0/1), seed]; seeds and coeffs
    int32 [n] with 1 <= n <= 128, each seed in [0, 2^30). Returns 0."""
    op = "zo_update"
    update = Update(op, w, params)
    seeds, coeffs = B.s32(seeds, "seeds"), B.s32(coeffs, "coeffs")
    B.require(op, 1 <= len(seeds) <= MAX_QUERIES and len(coeffs) == len(seeds), "aux")
    B.require(op, bool(np.all(seeds >= 0) and np.all(seeds < xorshift.SEED_LIMIT)), "params")
    update.check_steps(step_multiplier, step_shift)
    total = np.zeros(update.count, dtype=np.int64)
    for s, c in zip(seeds.tolist(), coeffs.tolist()):
        total += c * xorshift.rademacher(s, update.count)
    update.apply(np.clip(total, -(1 << 31), (1 << 31) - 1))
    return 0
