"""Buffers a plan allocates once."""

from array import array

from mcutrain.backend import kernels


def int32_zeros(n):
    """A zeroed array('i') of n elements in one allocation of its own size. array("i",
    bytes(4 * n)) first makes a bytes object as large, which doubles the peak: a heap with room
    for the buffer may have no second block that large."""
    buf = array("i", range(n))  # the array takes the range's length at once
    kernels.fill(buf, 0)
    return buf
