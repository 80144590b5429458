import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference.gradient import sat32


def bias_grad(gb, g, params):
    """gb[c] = sat32(gb[c] + sum_r g[r, c]).

    params: [rows, channels]; gb int32 [channels], g int8/16/32 [rows, channels].
    """
    op = "bias_grad"
    gb, g = B.s32(gb, "gb"), B.sized(g, "g")
    rows, channels = B.params(op, params, 2)
    B.require(op, rows >= 1 and channels >= 1 and g is not None, "params")
    B.require(op, len(g) == rows * channels, "aux")
    B.require(op, len(gb) == channels, "output")
    gb[...] = sat32(gb + g.reshape(rows, channels).astype(np.int64).sum(axis=0))
    return 0
