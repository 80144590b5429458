"""Softmax cross-entropy of int8 logits, in integers only (the same bits on every board).

Real logit z = (q - logit_zp) * logit_scale_q16 / 2^16. Softmax sees only differences, so each
sample works with x_c = (top - q_c) * logit_scale_q16 >= 0, the Q16 distance (in nats) of logit c
below the sample's largest logit `top`; the zero point cancels.

exp: E_c = exp_neg_q30(x_c) ~ 2^30 * exp(-x_c / 2^16), all arithmetic int64, shifts flooring:
  0 if x >= 32 * 2^16 (exp(-32) is far below 2^-30; the cut keeps the next product in int64);
  y = (x * LOG2E_Q30) >> 22, x * log2(e) in Q24 = n + i/16 + f: n = y >> 24, i = (y >> 20) & 15;
  u = ((y & 0xFFFFF) * LN2_Q30) >> 24, the rest f = y mod 2^20 in nats (Q30, u < 0.0434);
  p = 1 - u + u^2/2 - u^3/6 + u^4/24 by Horner in Q30 over EXP_TAYLOR_Q30:
      p = c[0]; p = c[j] - ((p * u) >> 30) for j = 1 .. 4;
  E = ((EXP2_SIXTEENTHS_Q30[i] * p) >> 30) >> n.
  E(0) = 2^30 exactly. E is within [-1, +46] of 2^30 exp(-x / 2^16): flooring y to Q24 costs
  up to 4e-8 relative, the Taylor remainder u^5/120 < 2e-9, each truncation a 2^-30.
log: L = log_q16(S) ~ 2^16 * ln(S / 2^30) for S = sum_c E_c in [2^30, 2^38]:
  k = bit_length(S) - 31, m = S >> k (Q30 mantissa in [1, 2)), l = k;
  20 times: m = (m * m) >> 30; l = 2 l; if m >= 2^31 then m >>= 1, l += 1
  (each squaring doubles log2 m, so its integer part is the next bit of the fraction);
  L = (l * LN2_Q30) >> 34, i.e. l is log2 in Q20, times ln 2, to Q16.
  Error: below 2^-20 ln 2 from the 20 bits plus 2^-16 from the last floor, so L is within
  2e-5 nats below ln.
loss_b = min(2^31 - 1, (top - q_label) * logit_scale_q16 + L) (Q16 nats, saturating at 32768 nats).
grad_bc = rhaz(127 * (E_c / S - [c == label])) exactly on the integers E_c and S:
  magnitude = (2 * 127 * a + S) // (2 * S) with a = E_c, or a = S - E_c for the label (negated);
  it lies in [-127, 127].
Returns floor(sum_b loss_b / batch). All told the loss is within 4e-5 nats of float64 softmax
cross-entropy (S is off by at most 256 * 46 / 2^30 relative) while it does not saturate, and
the gradient within 1 LSB of rhaz of the exact one.
"""

import numpy as np

from mcutrain.reference import buffers as B

OP = "cross_entropy"
INT32_MAX = (1 << 31) - 1
LOG2E_Q30 = 1549082005  # round(2^30 / ln 2)
LN2_Q30 = 744261118  # round(2^30 ln 2)
EXP_CUT_Q16 = 32 << 16
LOG2_FRACTION_BITS = 20
EXP2_SIXTEENTHS_Q30 = np.array([  # round(2^30 * 2^(-i/16))
    1073741824, 1028218693, 984625594, 942880699, 902905651, 864625413, 827968132, 792865000,
    759250125, 727060411, 696235434, 666717336, 638450708, 611382493, 585461881, 560640218], dtype=np.int64)
EXP_TAYLOR_Q30 = (44739243, 178956971, 1 << 29, 1 << 30, 1 << 30)  # 1/24, 1/6, 1/2, 1, 1


def exp_neg_q30(x):
    """~ 2^30 * exp(-x / 2^16) for an int64 array x >= 0 (Q16 nats); see the module docstring."""
    x = np.asarray(x, dtype=np.int64)
    cut = x >= EXP_CUT_Q16
    y = (np.where(cut, 0, x) * LOG2E_Q30) >> 22
    u = ((y & 0xFFFFF) * LN2_Q30) >> 24
    p = np.full_like(u, EXP_TAYLOR_Q30[0])
    for c in EXP_TAYLOR_Q30[1:]:
        p = c - ((p * u) >> 30)
    e = (EXP2_SIXTEENTHS_Q30[(y >> 20) & 15] * p) >> 30
    return np.where(cut, 0, e >> (y >> 24))


def log_q16(s):
    """~ 2^16 * ln(s / 2^30) for an int64 array s in [2^30, 2^39); see the module docstring."""
    s = np.asarray(s, dtype=np.int64)
    k = sum(((s >> j) != 0).astype(np.int64) for j in range(31, 39))
    m = s >> k
    log2_q20 = k
    for _ in range(LOG2_FRACTION_BITS):
        m = (m * m) >> 30
        bit = m >= 1 << 31
        m = np.where(bit, m >> 1, m)
        log2_q20 = 2 * log2_q20 + bit
    return (log2_q20 * LN2_Q30) >> (LOG2_FRACTION_BITS + 30 - 16)


def cross_entropy(loss, grad, logits, labels, params):
    """loss int32 [batch] (Q16 nats), grad int8 [batch, classes] = rhaz(127 * (softmax - one_hot)),
    from int8 logits [batch, classes] and a bytearray of batch labels. Returns the batch-mean loss.
    An empty grad: the losses alone.

    params: [batch, classes, logit_zp, logit_scale_q16]; 2 <= classes <= 256, logit_scale_q16 >= 1,
    each label < classes.
    """
    batch, classes, logit_zp, scale = B.params(OP, params, 4)
    loss, grad, logits = B.s32(loss, "loss"), B.s8(grad, "grad"), B.s8(logits, "logits")
    labels = B.view(labels, np.uint8, "labels")
    B.require(OP, batch >= 1 and 2 <= classes <= 256 and B.int8_range(logit_zp) and scale >= 1, "params")
    B.require(OP, len(logits) == batch * classes, "input")
    B.require(OP, len(labels) == batch, "aux")
    B.require(OP, len(loss) == batch and len(grad) in (0, batch * classes), "output")
    B.require(OP, bool(np.all(labels < classes)), "params")
    q = logits.reshape(batch, classes).astype(np.int64)
    x = (q.max(axis=1, keepdims=True) - q) * scale
    e = exp_neg_q30(x)
    s = e.sum(axis=1)
    rows = np.arange(batch)
    label = labels.astype(np.int64)
    loss[...] = np.minimum(x[rows, label] + log_q16(s), INT32_MAX)
    if len(grad):
        one_hot = np.zeros_like(e, dtype=bool)
        one_hot[rows, label] = True
        s = s[:, None]
        a = np.where(one_hot, s - e, e)
        magnitude = (2 * 127 * a + s) // (2 * s)
        grad[...] = np.where(one_hot, -magnitude, magnitude).ravel()
    return int(loss.astype(np.int64).sum() // batch)
