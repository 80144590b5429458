import numpy as np

from mcutrain.reference import buffers as B

OP = "argmax"


def argmax(out, x, params):
    """out[b] = the first index of the maximum of x[b, :]. params: [batch, classes]; out int32 [batch]."""
    out, x = B.s32(out, "out"), B.s8(x, "x")
    batch, classes = B.params(OP, params, 2)
    B.require(OP, batch >= 1 and classes >= 1, "params")
    B.require(OP, len(x) == batch * classes, "input")
    B.require(OP, len(out) == batch, "output")
    out[...] = np.argmax(x.reshape(batch, classes), axis=1)  # NumPy returns the first maximum
    return 0
