"""Plain SGD on int8 or int32 weights with a per-channel fixed-point step."""

import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference.update import Update


def sgd_update(w, g, step_multiplier, step_shift, params):
    """w[i] -= round(g[i] * step_multiplier[c] / 2^step_shift[c]) with c = (i // inner) % channels,
    saturated to [-127, 127] for int8 weights (they stay symmetric) or to int32; the product is
    exact in int64, round is rhaz or stochastic (reference.update.Update.apply).

    params: [count, channels, inner, stochastic (0/1), seed], optionally then first: w is the part
    of a larger tensor from its element `first` on, rounded as that part of it would be; w int8
    or int32, g int32 [count];
    step_multiplier >= 0 and step_shift in [0, 62], int32 [channels]. Returns 0.
    """
    update = Update("sgd_update", w, params, takes_first=True)
    g = B.s32(g, "g")
    B.require("sgd_update", len(g) == update.count, "aux")
    update.check_steps(step_multiplier, step_shift)
    update.apply(g.astype(np.int64))
    return 0
