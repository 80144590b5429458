"""Sliding-window geometry of conv2d, depthwise_conv2d and the pools, as boolean matrices.

Output position o of an axis reads input o * stride - pad + t for taps t in [0, k); taps
outside [0, size) read nothing (padding).
"""

import numpy as np


def taps(out_size, size, k, stride, pad):
    """Boolean [out_size, k, size]: tap t of output o reads input i."""
    first = np.arange(out_size, dtype=np.int64)[:, None] * stride - pad
    return (first + np.arange(k, dtype=np.int64))[:, :, None] == np.arange(size, dtype=np.int64)


def members(out_size, size, k, stride, pad):
    """Boolean [out_size, size]: input i lies in output o's window. Independent of k's size."""
    first = np.arange(out_size, dtype=np.int64)[:, None] * stride - pad
    i = np.arange(size, dtype=np.int64)
    return (first <= i) & (i < first + k)
