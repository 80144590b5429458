"""qnn.cross_entropy: parity with the NumPy reference on the virtual board, and the fixed-point
result against float64 softmax cross-entropy (loss within 1e-3 nats, gradient within 1 LSB),
extreme logits included."""

import importlib
from array import array

import numpy as np
import pytest

from kernel_cases import CaseMaker
from mcutrain import reference
from parity import assert_parity, run_reference

INT32_MAX = (1 << 31) - 1
spec = importlib.import_module("mcutrain.reference.cross_entropy")
SCALES = [1, 37, 1000, 6000, 65536, 300000, 1 << 20, 1 << 24, INT32_MAX]


def loss_case(m):
    batch = m.dim(1, 4)
    classes = m.choice([2, 3, 10, 256, m.dim(2, 256)])
    logits = m.s8(batch * classes)
    labels = bytearray(m.rng.integers(0, classes, batch, dtype=np.uint8).tobytes())
    scale = m.choice(SCALES + [m.dim(1, INT32_MAX), m.dim(1, 1 << 17)])
    grad = m.s8(batch * classes) if m.rng.random() < 0.8 else bytearray()  # empty: the losses alone
    return "cross_entropy", [m.s32(batch), grad, logits, labels, m.params(batch, classes, m.zero_point(), scale)]


def test_parity(board, tmp_path):
    m = CaseMaker(seed=31)
    assert_parity(board, tmp_path, [loss_case(m) for _ in range(300)])


def test_an_empty_grad_gives_the_same_losses():
    m = CaseMaker(seed=30)
    for _ in range(50):
        op, args = loss_case(m)
        args[1] = m.s8(len(args[2]))
        with_error, with_buffers = run_reference(op, args)
        args[1] = bytearray()
        alone, alone_buffers = run_reference(op, args)
        assert alone == with_error and alone_buffers[0] == with_buffers[0]


def broken(m):
    """A call with exactly one parameter or label wrong, which the kernel must reject."""
    op, args = loss_case(m)
    p = list(args[-1])
    i, bad = m.choice([(0, 0), (1, 1), (1, 257), (2, 128), (2, -129), (3, 0), (3, -1), ("label", None)])
    if i == "label" and p[1] < 256:  # byte labels cannot exceed 256 classes
        args[3][m.dim(0, len(args[3]) - 1)] = m.choice([p[1], m.dim(p[1], 255)])
    else:
        i, bad = (1, 257) if i == "label" else (i, bad)
        p[i] = bad
        args[-1] = array("i", p)
    return op, args


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=32)
    cases = [broken(m) for _ in range(150)]
    for op, args in cases:
        assert run_reference(op, args)[0] == "ecross_entropy: bad parameters", args
    cases += [m.break_case(loss_case(m)) for _ in range(150)]
    assert_parity(board, tmp_path, cases)


def float_cross_entropy(q, labels, zp, scale):
    """float64 softmax cross-entropy (nats) and rhaz(127 * (softmax - one_hot))."""
    z = (q.astype(np.float64) - zp) * scale / 65536
    z = z - z.max(axis=1, keepdims=True)
    rows = np.arange(len(q))
    loss = np.log(np.exp(z).sum(axis=1)) - z[rows, labels]
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    p[rows, labels] -= 1
    return loss, np.sign(p) * np.floor(np.abs(127 * p) + 0.5)


def fixed_cross_entropy(q, labels, zp, scale):
    batch, classes = q.shape
    loss, grad = array("i", [0] * batch), bytearray(batch * classes)
    mean = reference.cross_entropy(loss, grad, bytearray(q.astype(np.int8).tobytes()),
                                   bytearray(np.asarray(labels, np.uint8).tobytes()),
                                   array("i", [batch, classes, zp, scale]))
    return mean, np.array(loss), np.frombuffer(grad, np.int8).reshape(batch, classes)


def check_against_float(q, labels, zp, scale):
    mean, loss, grad = fixed_cross_entropy(q, labels, zp, scale)
    want_loss, want_grad = float_cross_entropy(q, labels, zp, scale)
    saturated = want_loss * 65536 >= INT32_MAX
    assert np.all(loss[saturated] == INT32_MAX)
    assert np.all(np.abs(loss[~saturated] / 65536 - want_loss[~saturated]) < 1e-3)
    assert np.all(np.abs(grad - want_grad) <= 1)
    assert np.all(np.abs(grad) <= 127)
    assert mean == int(loss.astype(np.int64).sum()) // len(loss)
    return loss, grad


def test_matches_float_softmax_cross_entropy():
    rng = np.random.default_rng(33)
    for _ in range(400):
        batch, classes = int(rng.integers(1, 6)), int(rng.choice([2, 3, 10, 100, 256]))
        q = rng.integers(-128, 128, (batch, classes))
        if rng.random() < 0.3:
            q = rng.choice([-128, 127, 0], (batch, classes))
        check_against_float(q, rng.integers(0, classes, batch), int(rng.integers(-128, 128)),
                            int(rng.choice(SCALES[:-1] + [int(rng.integers(1, 1 << 22))])))


def test_extreme_logits():
    # Uniform logits: ln(classes) with the gradient spread evenly.
    for classes in (2, 10, 256):
        loss, grad = check_against_float(np.zeros((1, classes), int), [0], 0, 65536)
        assert abs(loss[0] / 65536 - np.log(classes)) < 1e-3
    # A confident right answer: loss ~0, gradient 0; a confident wrong one: loss is the logit gap.
    q = np.array([[127, -128, -128], [-128, 127, -128]])
    loss, grad = check_against_float(q, [0, 0], 0, 1 << 20)  # a gap of 4080 nats
    assert loss[0] == 0 and loss[1] == 255 * (1 << 20) and np.all(grad[0] == 0)
    assert list(grad[1]) == [-127, 127, 0]
    # Gaps past 32768 nats saturate the loss; the softmax is still exact.
    loss, grad = check_against_float(q, [1, 2], -128, INT32_MAX)
    assert loss[0] == INT32_MAX and loss[1] == INT32_MAX
    # The scale's edges: the smallest gap (1 step of 2^-16 nats) and the largest finite loss.
    check_against_float(np.array([[1, 0], [0, 1]]), [0, 0], 0, 1)
    check_against_float(np.array([[0, 0, 1], [-128, 127, 127]]), [2, 0], 0, (1 << 23) + 12345)


def test_exp_and_log_approximations():
    x = np.arange(0, 33 << 16, 13, dtype=np.int64)
    exact = np.exp(-x / 65536) * 2.0 ** 30
    err = spec.exp_neg_q30(x) - exact
    assert spec.exp_neg_q30(np.array([0]))[0] == 1 << 30
    assert err.min() >= -1.01 and err.max() <= 46  # the bound the docstring states
    assert np.all(spec.exp_neg_q30(np.array([32 << 16, 1 << 38])) == 0)
    s = np.unique(np.random.default_rng(34).integers(1 << 30, (1 << 38) + 1, 50000))
    s = np.concatenate([[1 << 30, (1 << 30) + 1, 1 << 31, 1 << 38], s])
    err = spec.log_q16(s) - np.log(s / 2.0 ** 30) * 65536
    assert err.max() <= 0 and err.min() > -1.1  # floored, within 2e-5 nats


@pytest.mark.parametrize("classes", [2, 256])
def test_board_mean_is_the_floor_of_the_batch_mean(board, tmp_path, classes):
    m = CaseMaker(seed=35 + classes)
    cases = []
    for _ in range(5):
        batch = m.dim(2, 8)
        labels = bytearray(m.rng.integers(0, classes, batch, dtype=np.uint8).tobytes())
        op, args = "cross_entropy", [m.s32(batch), m.s8(batch * classes), m.s8(batch * classes), labels,
                                     m.params(batch, classes, 0, 40000)]
        cases.append((op, args))
        result, buffers = run_reference(op, args)
        loss = np.frombuffer(buffers[0], np.int32).astype(np.int64)
        assert result == "r%d" % (loss.sum() // batch)
    assert_parity(board, tmp_path, cases)
