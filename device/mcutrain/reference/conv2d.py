import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference import window
from mcutrain.reference.requant import INT32_MAX, INT32_MIN, requantize_in_place


def _checked(op, out, x, w, bias, multiplier, shift, params, depthwise):
    out, x, w = B.s8(out, "out"), B.s8(x, "x"), B.s8(w, "w")
    bias, multiplier, shift = B.s32(bias, "bias"), B.s32(multiplier, "multiplier"), B.s32(shift, "shift")
    p = B.params(op, params, 17)
    batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w = p[:9]
    in_zp, out_zp, act_min, act_max = p[13:]
    B.require(op, all(v >= 1 for v in p[:11]) and p[11] >= 0 and p[12] >= 0
              and B.int8_range(in_zp, out_zp, act_min, act_max) and act_min <= act_max
              and (out_c == in_c or not depthwise), "params")
    B.require(op, len(x) == batch * in_h * in_w * in_c, "input")
    B.require(op, len(w) == (1 if depthwise else out_c) * k_h * k_w * in_c, "weight")
    B.require(op, len(bias) == out_c and len(multiplier) == out_c and len(shift) == out_c, "bias")
    B.require(op, len(out) == batch * out_h * out_w * out_c, "output")
    B.require(op, B.requant_ok(multiplier, shift), "params")
    return out, x, w, bias, multiplier, shift, p


def _patches(x, p, dtype):
    """[batch, out_h, out_w, k_h, k_w, in_c]: each output's window of x - in_zp, zero where it
    reads padding (padding equals in_zp)."""
    batch, in_h, in_w, in_c = p[:4]
    return window.patches(x.reshape(batch, in_h, in_w, in_c).astype(dtype) - dtype(p[13]), p)


def _exact_float(x, in_zp, tap_weights):
    """The float type in which BLAS sums this layer's products exactly: every partial sum is an
    integer no larger than max|x - in_zp| * sum|w| of a filter, exact in float32 below 2^24,
    else float64 (exact below 2^53 for any window under 2^37 taps). BLAS sums floats many times
    faster than NumPy sums ints, float32 twice as fast again. tap_weights: [taps, filters]."""
    largest = max(abs(int(x.min()) - in_zp), abs(int(x.max()) - in_zp)) if len(x) else 0
    return np.float32 if largest * int(np.abs(tap_weights.astype(np.int32)).sum(axis=0).max()) < 1 << 24 \
        else np.float64


def _output(out, acc, bias, multiplier, shift, p):
    """Requantizes acc ([batch, out_h, out_w, out_c]) into out. Channel-major, so that each
    per-channel operation runs along long rows."""
    a = np.empty((len(bias), acc.size // len(bias)), np.int64)
    a[...] = acc.reshape(-1, len(bias)).T
    a += bias[:, None]
    if a.size and (a.min() < INT32_MIN or a.max() > INT32_MAX):
        a = a.astype(np.int32).astype(np.int64)  # wrap modulo 2^32 like the C accumulator
    requantize_in_place(a, multiplier.astype(np.int64)[:, None], shift.astype(np.int64)[:, None])
    out_zp, act_min, act_max = p[14:]
    a += out_zp
    np.clip(a, act_min, act_max, out=a)
    out.reshape(-1, len(bias))[...] = a.T
    return 0


def conv2d(out, x, w, bias, multiplier, shift, params, scratch=None):
    """out[n, oy, ox, o] = clamp(requant(bias[o] + sum_{ky, kx, c} (x[n, iy, ix, c] - in_zp)
    * w[o, ky, kx, c]) + out_zp) with iy = oy*stride_h - pad_top + ky, ix likewise; taps outside
    the image add nothing.

    params: [batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, pad_top,
    pad_left, in_zp, out_zp, act_min, act_max]. NHWC activations, OHWI weights, int32 wrapping.
    scratch: as fully_connected's.
    """
    out, x, w, bias, multiplier, shift, p = _checked("conv2d", out, x, w, bias, multiplier, shift, params, False)
    B.scratch(scratch)
    out_c, k_h, k_w, in_c = p[6], p[7], p[8], p[3]
    w = w.reshape(out_c, k_h, k_w, in_c)
    dtype = _exact_float(x, p[13], w.reshape(out_c, -1).T)
    acc = np.tensordot(_patches(x, p, dtype), w.astype(dtype), axes=([3, 4, 5], [1, 2, 3]))
    return _output(out, acc, bias, multiplier, shift, p)


def depthwise_conv2d(out, x, w, bias, multiplier, shift, params):
    """conv2d with one [k_h, k_w] filter per channel: out[n, oy, ox, c] sums
    (x[n, iy, ix, c] - in_zp) * w[ky, kx, c]. Same params with out_c == in_c; weights [k_h, k_w, c]."""
    out, x, w, bias, multiplier, shift, p = _checked(
        "depthwise_conv2d", out, x, w, bias, multiplier, shift, params, True)
    k_h, k_w, c = p[7], p[8], p[3]
    w = w.reshape(k_h, k_w, c)
    dtype = _exact_float(x, p[13], w.reshape(-1, c))
    acc = np.einsum("nabyxc,yxc->nabc", _patches(x, p, dtype), w.astype(dtype))
    return _output(out, acc, bias, multiplier, shift, p)
