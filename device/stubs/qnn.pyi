"""Editor stubs for the qnn native module: the int8 kernels (docs/kernels.md has the contract).

Buffers are caller-given: outputs first, then inputs, then an int32 parameter block
(array("i", ...)). Bad arguments raise ValueError with a message. A kernel returns 0 unless
its line says what it returns. The NumPy reference, mcutrain/reference/, is the specification:
tests/test_stubs.py keeps these names and parameters equal to it and to the natmod.
"""

from array import array

Buffer = bytearray | bytes | memoryview | array

SCRATCH_PER_WEIGHT: int
"""Bytes of scratch a weight takes widened: 4 on the Cortex-M0 (armv6m), 0 where no loop widens."""
ADD_SCRATCH: int
"""Bytes of scratch in which add tabulates its inputs' rescaling (2048; 0 in the reference, which needs none)."""


def add(out: Buffer, a: Buffer, b: Buffer, params: array, scratch: Buffer | None = None) -> int:
    """TFLite's int8 add: a' = requant((a - a_zp) << left_shift, a_multiplier, a_shift), b' alike, out =
    clamp(requant(sat32(a' + b'), out_multiplier, out_shift) + out_zp). scratch: writable work space;
    with ADD_SCRATCH bytes (past a word boundary) the kernel tabulates a' and b' for their 256 values
    and looks them up, which pays from about 256 elements; the result is the same without it.
    """

def argmax(out: Buffer, x: Buffer, params: array) -> int:
    """out[b] = the first index of the maximum of x[b, :]. params: [batch, classes]; out int32 [batch]."""

def avg_pool(out: Buffer, x: Buffer, params: array) -> int:
    """out[n, oy, ox, c] = clamp(rhaz(sum of the window's inputs / their count)) (TFLite)."""

def avg_pool_input_grad(gx: Buffer, g: Buffer, params: array) -> int:
    """gx[b, iy, ix, c] = sat(sum of rhaz(g[b, oy, ox, c] / valid_count(oy, ox)) over the windows that
    hold (iy, ix)), overwriting gx; sat saturates to gx's element type (int8, int16 or int32).
    """

def bias_grad(gb: Buffer, g: Buffer, params: array) -> int:
    """gb[c] = sat32(gb[c] + sum_r g[r, c])."""

def channel_norms(out: Buffer, g: Buffer, params: array) -> int:
    """out[c] = min(2^31 - 1, (sum of g^2 over channel c, saturating at 2^64 - 1) >> shift): the channels
    of a channels-last tensor (inner = 1) or of rows (channels = rows, inner = row length).
    """

def clamp_mask(g: Buffer, y: Buffer, params: array) -> int:
    """In place: g[i] = 0 unless act_min < y[i] < act_max."""

def conv2d(
        out: Buffer, x: Buffer, w: Buffer, bias: Buffer, multiplier: Buffer, shift: Buffer, params: array,
        scratch: Buffer | None = None) -> int:
    """out[n, oy, ox, o] = clamp(requant(bias[o] + sum_{ky, kx, c} (x[n, iy, ix, c] - in_zp) * w[o, ky, kx,
    c]) + out_zp) with iy = oy*stride_h - pad_top + ky, ix likewise; taps outside the image add nothing.
    scratch: as fully_connected's.
    """

def conv2d_input_grad(gx: Buffer, w: Buffer, g: Buffer, params: array) -> int:
    """gx[b, iy, ix, c] = sat32(sum over o, ky, kx, oy, ox of w[o, ky, kx, c] * g[b, oy, ox, o]) over the
    taps that read (iy, ix) (the transposed convolution), overwriting gx.
    """

def conv2d_weight_grad(gw: Buffer, x: Buffer, g: Buffer, params: array) -> int:
    """gw[o, ky, kx, c] = sat32(gw + sum over b, oy, ox of (x[b, iy, ix, c] - in_zp) * g[b, oy, ox, o])
    with iy = oy * stride_h - pad_top + ky, ix = ox * stride_w - pad_left + kx inside the input.
    """

def copy(dst: Buffer, src: Buffer, params: array) -> int:
    """dst[d:d + n] = src[s:s + n] in bytes, as memmove (dst and src may be one buffer); returns 0. params:
    [d, s, n], each >= 0; the ranges must lie inside the buffers.
    """

def crc32(state: Buffer, data: Buffer) -> int:
    """state[0] = zlib.crc32(data, state[0]) as uint32 bits in an int32 element; returns 0."""

def cross_entropy(loss: Buffer, grad: Buffer, logits: Buffer, labels: Buffer, params: array) -> int:
    """loss int32 [batch] (Q16 nats), grad int8 [batch, classes] = rhaz(127 * (softmax - one_hot)), from
    int8 logits [batch, classes] and a bytearray of batch labels. Returns the batch-mean loss.
    An empty grad: the losses alone.
    """

def depthwise_conv2d(
        out: Buffer, x: Buffer, w: Buffer, bias: Buffer, multiplier: Buffer, shift: Buffer, params: array) -> int:
    """conv2d with one [k_h, k_w] filter per channel: out[n, oy, ox, c] sums (x[n, iy, ix, c] - in_zp) *
    w[ky, kx, c]. Same params with out_c == in_c; weights [k_h, k_w, c].
    """

def depthwise_input_grad(gx: Buffer, w: Buffer, g: Buffer, params: array) -> int:
    """conv2d_input_grad for depthwise_conv2d: w [k_h, k_w, c], no sum over channels; out_c == in_c."""

def depthwise_weight_grad(gw: Buffer, x: Buffer, g: Buffer, params: array) -> int:
    """conv2d_weight_grad for depthwise_conv2d: gw [k_h, k_w, c], g's channel is x's; out_c == in_c."""

def fc_input_grad(gx: Buffer, w: Buffer, g: Buffer, params: array) -> int:
    """gx[b, i] = sat32(sum_o w[o, i] * g[b, o]), overwriting gx."""

def fc_weight_grad(gw: Buffer, x: Buffer, g: Buffer, params: array) -> int:
    """gw[o - first, i] = sat32(gw[o - first, i] + sum_b (x[b, i] - in_zp) * g[b, o]) for the output
    features o in [first, first + rows).
    """

def fill(t: Buffer, value: int) -> int:
    """Every element of t (int8 or int32) = value, which must fit the type. Returns 0."""

def frame_decode(out: Buffer, body: Buffer, params: array) -> int:
    """Decodes the COBS body[:n] into out (the data, then its 4 CRC bytes) and returns the data's length;
    returns 0 when body[:n] is not a frame: not COBS, shorter than data plus CRC, larger than out, or a
    CRC that does not match. After a 0 the content of out is unspecified. params: [n], 0 <= n <=
    len(body).
    """

def frame_encode(out: Buffer, data: Buffer, params: array) -> int:
    """out[:k] = 0x00, 0x80 | L & 0x7F, 0x80 | L >> 7, COBS(data[:n] + crc32(data[:n]) as u32 LE), L the
    COBS length; returns k = L + 3. params: [n], 1 <= n <= len(data), max_body(n + 4) <= MAX_BODY. out
    must hold max_body(n + 4) + 3 bytes whatever the data.
    """

def fully_connected(
        out: Buffer, x: Buffer, w: Buffer, bias: Buffer, multiplier: Buffer, shift: Buffer, params: array,
        scratch: Buffer | None = None) -> int:
    """out[b, o] = clamp(requant(bias[o] + sum_i (x[b, i] - in_zp) * w[o, i]) + out_zp). scratch: writable
    work space of any length: where SCRATCH_PER_WEIGHT > 0 (the Cortex-M0; the M4 where in_features is a
    multiple of 4) the kernel widens as many output channels' weights into it as fit, that many
    bytes a weight, and runs a faster loop; the result is the same with or without it. Pays from about 8 output pixels (batch rows here).
    """

def global_avg_pool(out: Buffer, x: Buffer, params: array) -> int:
    """out[n, c] = clamp(rhaz(sum_{y, x} x[n, y, x, c] / (h * w)))."""

def global_avg_pool_input_grad(gx: Buffer, g: Buffer, params: array) -> int:
    """gx[b, y, x, c] = rhaz(g[b, c] / (h * w)), overwriting gx."""

def int32_view(view: Buffer) -> memoryview:
    """The bytes of a memoryview (a slice of a planned arena) as int32 elements, with the natmod's checks:
    a whole number of elements at an address a Cortex-M0 can read them from.
    """

def max_pool(out: Buffer, x: Buffer, params: array) -> int:
    """out[n, oy, ox, c] = clamp(max of x[n, iy, ix, c] over the window's inputs)."""

def max_pool_input_grad(gx: Buffer, x: Buffer, g: Buffer, params: array) -> int:
    """gx[b, iy, ix, c] = sat(sum of g[b, oy, ox, c] over the windows whose first maximum (in window
    order) of x[b, :, :, c] is at (iy, ix)), overwriting gx; sat saturates to gx's element type (int8,
    int16 or int32). x is the pool's int8 input.
    """

def perturb(t: Buffer, mask: Buffer, seed: int, sigma: int, sign: int) -> int:
    """In place: t[i] += sign*sigma*u[i] where that stays in the type's range; elsewhere t[i] is left alone
    and mask bit i is set (byte i >> 3, bit i & 7, LSB first). The other bits of the first ceil(n/8)
    mask bytes are cleared, bits past n kept. t is int8 (sigma <= 127) or int32. Returns the number of
    elements left alone.
    """

def quantize_s8(out: Buffer, acc: Buffer, params: array) -> int:
    """out = round(acc / 2^s) with s the smallest s >= 0 such that max |acc| <= 127 * 2^s, so out lies in
    [-127, 127] (the contract's clamp never bites). round is rhaz, or stochastic rounding (one output of
    the seed's stream per element, xorshift.round_shift). Returns s (<= 25).
    """

def requantize(out: Buffer, acc: Buffer, multiplier: Buffer, shift: Buffer, params: array) -> int:
    """out[i] = clamp(requant(acc[i], multiplier[i % channels], shift[i % channels]) + out_zp)."""

def row_norms(out: Buffer, g: Buffer, params: array) -> int:
    """out[r] = min(2^31 - 1, (sum_i g[r, i]^2, saturating at 2^64 - 1) >> shift)."""

def seeds(out: Buffer, state: Buffer) -> int:
    """out int32 [n] = the next n outputs of the stream in state, each >> 2 (30-bit seeds)."""

def sgd_update(w: Buffer, g: Buffer, step_multiplier: Buffer, step_shift: Buffer, params: array) -> int:
    """w[i] -= round(g[i] * step_multiplier[c] / 2^step_shift[c]) with c = (i // inner) % channels,
    saturated to [-127, 127] for int8 weights (they stay symmetric) or to int32; the product is exact in
    int64, round is rhaz or stochastic (reference.update.Update.apply).
    """

def standardize(g: Buffer, params: array) -> int:
    """In place, per channel: g = sat32(rhaz((v - mean) * 2^(q_bits + 8) / std)), or 0 where std is 0, with
    every step exact on integers: - v = g * 2^-e, e = bit_length(max |g| of the channel) - 15: max |v|
    in [2^14, 2^15]; exact   for e <= 0, floor (an arithmetic shift) for e > 0. This keeps every sum in
    int64. - mean = rhaz(sum v / n), n the channel's element count. - std = isqrt(floor(sum (v - mean)^2
    * 2^16 / n)): the standard deviation with 8 fraction bits,   floored (the rounded mean makes it at
    most 1/4 unit of v too large in variance). The result is (g - mean(g)) / std(g) in Q(q_bits), scale-
    free: any positive per-channel factor on g leaves it unchanged up to the rounding of v.
    """

def topk(out: Buffer, scores: Buffer, params: array) -> int:
    """out int32 [k] = indices of the k largest scores (int32), largest first, ties to the lower index.
    params: [n, k], 1 <= k <= n.
    """

def unperturb(t: Buffer, mask: Buffer, seed: int, sigma: int, sign: int) -> int:
    """In place: t[i] -= sign*sigma*u[i] where mask bit i is clear, which restores the bytes perturb(t,
    mask, seed, sigma, sign) changed. Wraps like the type (only if t changed since).
    """

def zo_node_gradient(g: Buffer, y: Buffer, seeds: Buffer, coeffs: Buffer, params: array) -> int:
    """g[b, i] = 0 if y[b, first + i] <= act_min or >= act_max, else sat32(sum_q coeffs[q, b] * u(seeds[q,
    b])[(first + i) mod period]), overwriting g. The sum is exact.
    """

def zo_update(
        w: Buffer, seeds: Buffer, coeffs: Buffer, step_multiplier: Buffer, step_shift: Buffer, params: array) -> int:
    """w -= round(sat32(sum_q coeffs[q] * u_q[i]) * step_multiplier[c] / 2^step_shift[c]) with c = (i //
    inner) % channels: sgd_update with the gradient regenerated from the seeds. The sum is exact in
    int64 and saturated to int32 before the step (reference.update.Update.apply).
    """
