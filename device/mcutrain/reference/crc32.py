import zlib

import numpy as np

from mcutrain.reference import buffers as B


def crc32(state, data):
    """state[0] = zlib.crc32(data, state[0]) as uint32 bits in an int32 element; returns 0.

    The CRC lives in a caller's buffer, not in the return value: MicroPython's small ints are
    31-bit on 32-bit boards, so a returned CRC would be a heap-allocated big int.
    """
    s = B.s32(state, "state")
    B.require("crc32", len(s) == 1, "aux")
    running = int(s.view(np.uint32)[0])
    s.view(np.uint32)[0] = zlib.crc32(memoryview(data).cast("B"), running)
    return 0
