"""A layer's weight gradient a group of output channels at a time: what a lean plan holds.

The weight-gradient kernels of conv2d and fully connected layers take a range of output channels,
and sgd_update takes the index of a part's first element in the whole tensor, from which its
rounding stream starts; so updating a layer group by group leaves the bytes of updating it whole.
Depthwise weights hold their channel innermost, so a depthwise layer is always one group.
"""

from array import array

LEAN_GRADIENT_BYTES = 4096  # a lean plan's weight gradient at once, as whole output channels


def group_size(channels, inner, lean, depthwise):
    """Output channels a group holds: all of them, or lean about LEAN_GRADIENT_BYTES of int32s."""
    if not lean or depthwise:
        return channels
    return max(1, min(channels, LEAN_GRADIENT_BYTES // (4 * inner)))


def gradient_count(weight, channels, inner, group):
    """int32 elements of gradient a group needs: the whole weight tensor's, or group * inner."""
    return len(weight) if group == channels else group * inner


def split(gradient, weight, multipliers, shifts, grad_params, update_params, channels, inner, group):
    """[(first, n, gradient, grad params, weights, multipliers, shifts, update params)] for each
    group of n output channels from `first`: views of the given buffers, with parameter blocks of
    their own where a group is not the whole layer (a caller that sets the channels of one
    gradient block itself passes grad_params None). A part's update block takes its rounding flag
    and seed (entries 3 and 4) from the whole layer's block before each update."""
    if group == channels:
        return [(0, channels, gradient, grad_params, weight, multipliers, shifts, update_params)]
    weight, multipliers, shifts = memoryview(weight), memoryview(multipliers), memoryview(shifts)
    parts = []
    for first in range(0, channels, group):
        n = min(group, channels - first)
        part_params = None if grad_params is None else array("i", tuple(grad_params) + (first, n))
        parts.append((first, n, gradient[:n * inner], part_params,
                      weight[first * inner:(first + n) * inner], multipliers[first:first + n], shifts[first:first + n],
                      array("i", (n * inner, n, inner, 0, 0, first * inner))))
    return parts
