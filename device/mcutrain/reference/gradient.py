"""What the gradient kernels share.

Every g is int8, int16 or int32, the element size read from the caller's buffer (B.sized; any
other size is bad parameters). Sums are exact, then saturate once into the int32 result.
"""

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def sat32(v):
    return np.clip(v, INT32_MIN, INT32_MAX).astype(np.int32)
