"""Fully connected gradients."""

import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference.gradient import sat32


def fc_weight_grad(gw, x, g, params):
    """gw[o - first, i] = sat32(gw[o - first, i] + sum_b (x[b, i] - in_zp) * g[b, o]) for the
    output features o in [first, first + rows).

    params: [batch, in_features, out_features, in_zp], optionally then [first, rows] (default:
    every output feature); gw int32 [rows, in], x int8 [batch, in], g int8/16/32 [batch, out].
    """
    op = "fc_weight_grad"
    gw, x, g = B.s32(gw, "gw"), B.s8(x, "x"), B.sized(g, "g")
    p = B.params(op, params, 6 if len(B.s32(params, "params")) == 6 else 4)
    batch, in_n, out_n, in_zp = p[:4]
    first, rows = p[4:] if len(p) == 6 else (0, out_n)
    B.require(op, batch >= 1 and in_n >= 1 and out_n >= 1 and B.int8_range(in_zp) and g is not None
              and first >= 0 and 1 <= rows <= out_n - first, "params")
    B.require(op, len(x) == batch * in_n, "input")
    B.require(op, len(g) == batch * out_n, "aux")
    B.require(op, len(gw) == rows * in_n, "output")
    xs = x.reshape(batch, in_n).astype(np.int64) - in_zp
    total = g.reshape(batch, out_n)[:, first:first + rows].astype(np.int64).T @ xs
    gw[...] = sat32(gw.reshape(rows, in_n) + total).ravel()
    return 0


def fc_input_grad(gx, w, g, params):
    """gx[b, i] = sat32(sum_o w[o, i] * g[b, o]), overwriting gx.

    params: [batch, in_features, out_features]; gx int32 [batch, in], w int8 [out, in],
    g int8/16/32 [batch, out].
    """
    op = "fc_input_grad"
    gx, w, g = B.s32(gx, "gx"), B.s8(w, "w"), B.sized(g, "g")
    batch, in_n, out_n = B.params(op, params, 3)
    B.require(op, batch >= 1 and in_n >= 1 and out_n >= 1 and g is not None, "params")
    B.require(op, len(w) == out_n * in_n, "weight")
    B.require(op, len(g) == batch * out_n, "aux")
    B.require(op, len(gx) == batch * in_n, "output")
    total = g.reshape(batch, out_n).astype(np.int64) @ w.reshape(out_n, in_n).astype(np.int64)
    gx[...] = sat32(total).ravel()
    return 0
