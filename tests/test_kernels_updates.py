"""qnn.quantize_s8, sgd_update, row_norms and topk: parity with the NumPy reference on the
virtual board, and their properties: minimal power-of-two scale, unbiased stochastic rounding,
saturation, and top-k order with ties."""

from array import array

import numpy as np
import pytest

from kernel_cases import CaseMaker
from mcutrain import reference
from parity import assert_parity, run_reference

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def quantize_case(m):
    count = m.choice([1, 2, 33, m.dim(1, 200)])
    acc = m.choice([lambda: m.s32(count), lambda: m.s32(count, -127, 127), lambda: m.s32(count, -3000, 3000),
                    lambda: m.s32(count, INT32_MIN, INT32_MIN + 2), lambda: m.s32(count, -1, 1)])()
    return "quantize_s8", [m.s8(count), acc, m.params(count, m.choice([0, 1]), m.seed())]


def sgd_case(m):
    if m.rng.random() < 0.3:
        return trainer_sgd_case(m)
    rows, length = m.dim(1, 6), m.dim(1, 40)
    # Channels either lead (rows of `length`) or come last (depthwise [k_h, k_w, c]).
    channels_last = m.rng.random() < 0.3
    count = rows * length
    w = m.s8_or_s32(count)
    g = m.choice([lambda: m.s32(count), lambda: m.s32(count, -500, 500)])()
    multiplier = m.choice([lambda: m.s32(rows, 0, INT32_MAX), lambda: m.s32(rows, 0, 1000),
                           lambda: array("i", m.rng.choice([0, 1, INT32_MAX], rows).tolist())])()
    shift = m.choice([lambda: m.s32(rows, 0, 62), lambda: m.s32(rows, 0, 12),
                      lambda: array("i", m.rng.choice([0, 1, 31, 32, 33, 62], rows).tolist())])()
    inner = 1 if channels_last else length
    first = [m.choice([0, m.dim(0, 5000)])] if m.rng.random() < 0.3 else []  # a part from element `first` on
    return "sgd_update", [w, g, multiplier, shift, m.params(count, rows, inner, m.choice([0, 1]), m.seed(), *first)]


def trainer_sgd_case(m):
    """sgd_update as the trainers call it (the Cortex-M0's loop in update.c): int8 weights, stochastic
    rounding, shifts past 32 that leave most steps inside int8, so that no clamp hides a wrong bit of
    the 64-bit product or of its shift, products of up to 62 bits and of a few more than 32."""
    rows, length = m.dim(1, 6), m.dim(1, 40)
    count = rows * length
    g = m.choice([lambda: m.s32(count), lambda: m.s32(count, -(1 << 20), 1 << 20),
                  lambda: m.s32(count, -(1 << 10), 1 << 10)])()
    multiplier = m.choice([lambda: m.s32(rows, 1 << 16, INT32_MAX), lambda: m.s32(rows, 1, 1 << 26)])()
    largest = max(abs(v) for v in g) or 1
    shift = array("i", [min(62, max(33, (largest * v).bit_length() - 7 + m.dim(0, 4))) for v in multiplier])
    inner = m.choice([1, length])  # channels last (depthwise) or leading
    first = [m.choice([0, m.dim(0, 5000)])] if m.rng.random() < 0.3 else []
    return "sgd_update", [m.s8(count), g, multiplier, shift, m.params(count, rows, inner, 1, m.seed(), *first)]


def gradient(m, n):
    """An int8, int16 or int32 gradient tensor."""
    kind = m.choice(["b", "h", "i", "i"])
    if kind == "b":
        return m.s8(n)
    if kind == "h":
        return array("h", m.rng.choice([m.rng.integers(-32768, 32768, n), np.full(n, -32768)]).tolist())
    return m.choice([lambda: m.s32(n), lambda: m.s32(n, -40000, 40000), lambda: m.s32(n, INT32_MIN, INT32_MIN)])()


def row_norms_case(m):
    rows, length = m.dim(1, 8), m.dim(1, 50)
    shift = m.choice([0, 63, m.dim(0, 63), m.dim(0, 20)])
    return "row_norms", [m.s32(rows), gradient(m, rows * length), m.params(rows, length, shift)]


def topk_case(m):
    n = m.dim(1, 120)
    k = m.choice([1, n, m.dim(1, n)])
    # Few distinct values make ties common.
    scores = m.choice([lambda: m.s32(n), lambda: m.s32(n, -3, 3),
                       lambda: array("i", m.rng.choice([INT32_MIN, INT32_MAX, 0], n).tolist())])()
    return "topk", [m.s32(k), scores, m.params(n, k)]


MAKERS = {"quantize_s8": quantize_case, "sgd_update": sgd_case, "row_norms": row_norms_case, "topk": topk_case}


@pytest.mark.parametrize("op", MAKERS)
def test_parity(board, tmp_path, op):
    m = CaseMaker(seed=21 + list(MAKERS).index(op))
    assert_parity(board, tmp_path, [MAKERS[op](m) for _ in range(300)])


def broken(m, op):
    """A call with exactly one parameter or typed tensor wrong, which the kernel must reject."""
    op, args = MAKERS[op](m)
    p = list(args[-1])
    if op == "quantize_s8":
        i, bad = m.choice([(0, 0), (1, 2), (1, -1), (2, -1), (2, 1 << 30)])
    elif op == "sgd_update":
        i, bad = m.choice([(0, 0), (1, -1), (2, 0), (3, 2), (4, 1 << 30), ("w", None), ("multiplier", -1),
                           ("shift", 63), ("shift", -1)])
    elif op == "row_norms":
        i, bad = m.choice([(0, 0), (1, 0), (2, 64), (2, -1), ("g", None)])
    else:
        i, bad = m.choice([(0, 0), (1, 0), (1, p[0] + 1), (1, -1)])
    if i == "w":
        args[0] = array("h", [0] * len(args[0]))
    elif i == "g":
        args[1] = array("q", [0] * len(args[1]))
    elif i == "multiplier":
        args[2][m.dim(0, len(args[2]) - 1)] = bad
    elif i == "shift":
        args[3][m.dim(0, len(args[3]) - 1)] = bad
    else:
        p[i] = bad
        args[-1] = array("i", p)
    return op, args


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=25)
    cases = [broken(m, op) for op in MAKERS for _ in range(40)]
    for op, args in cases:
        assert run_reference(op, args)[0] == "e" + op + ": bad parameters", (op, args)
    cases += [m.break_case(MAKERS[op](m)) for op in MAKERS for _ in range(60)]
    assert_parity(board, tmp_path, cases)


def quantize(values, stochastic=0, seed=0):
    out = bytearray(len(values))
    s = reference.quantize_s8(out, array("i", values), array("i", [len(values), stochastic, seed]))
    return s, list(np.frombuffer(out, np.int8))


def test_quantize_takes_the_smallest_scale_and_rounds_half_away_from_zero():
    assert quantize([127, -127, 5]) == (0, [127, -127, 5])
    assert quantize([0, 0]) == (0, [0, 0])
    assert quantize([128, 3, -3, 1]) == (1, [64, 2, -2, 1])
    assert quantize([255, 2, -2]) == (2, [64, 1, -1])
    assert quantize([254, -255]) == (2, [64, -64])
    assert quantize([INT32_MIN, INT32_MAX]) == (25, [-64, 64])
    assert quantize([127 << 24]) == (24, [127])
    assert quantize([(127 << 24) + 1]) == (25, [64])


@pytest.mark.parametrize("value,s", [(1, 3), (-1, 3), (5, 4), (-77, 7), (1000, 12), (3, 0)])
def test_stochastic_rounding_is_unbiased(value, s):
    n = 20000
    values = [127 << s] + [value] * n  # the first element fixes the scale at 2^s
    got_s, out = quantize(values, stochastic=1, seed=value & 0xFFFF)
    assert got_s == s
    mean = np.mean(out[1:])
    floor = value >> s
    assert set(out[1:]) <= {floor, floor + 1}
    # n draws of a Bernoulli with p = fraction: 5 sigma is at most 2.5 / sqrt(n).
    assert abs(mean - value / 2 ** s) < 2.5 / np.sqrt(n)


def sgd(w, g, multiplier, shift, stochastic=0, seed=0, rows=1):
    reference.sgd_update(w, array("i", g), array("i", multiplier), array("i", shift),
                         array("i", [len(g), rows, len(g) // rows, stochastic, seed]))
    return list(w)


def test_sgd_channels_last_takes_each_elements_own_step():
    """Depthwise weights [k_h, k_w, c]: element i belongs to channel i % c (inner = 1)."""
    w = array("i", [0] * 6)
    reference.sgd_update(w, array("i", [8] * 6), array("i", [1, 2, 4]), array("i", [0, 0, 0]),
                         array("i", [6, 3, 1, 0, 0]))
    assert list(w) == [-8, -16, -32, -8, -16, -32]


def test_sgd_rounds_saturates_and_keeps_int8_symmetric():
    w8 = array("b", [0, 0, 0, 0, 120, -120, -128])
    assert sgd(w8, [1, 3, -3, 2, -100, 100, 0], [1], [1]) == [-1, -2, 2, -1, 127, -127, -127]
    w32 = array("i", [INT32_MAX, INT32_MIN, 10])
    assert sgd(w32, [INT32_MIN, INT32_MAX, 7], [INT32_MAX], [0]) == [INT32_MAX, INT32_MIN, INT32_MIN]
    # Per-row steps: row 0 steps by g * 3 / 2, row 1 by g * 2^9 / 2^40 (2^-11 rounds to 0, 1/2 to 1).
    assert sgd(array("i", [0, 0, 0, 0]), [2, -2, 1 << 20, 1 << 30], [3, 1 << 9], [1, 40], rows=2) == [-3, 3, 0, -1]


@pytest.mark.parametrize("shift,g,multiplier", [(3, 12345, 1), (32, 11, (1 << 30) + 7), (40, 1234, INT32_MAX),
                                                (62, INT32_MAX, INT32_MAX)])
def test_sgd_stochastic_steps_are_unbiased(shift, g, multiplier):
    n = 20000
    exact = g * multiplier / 2 ** shift
    w = array("i", [0] * n)
    steps = -np.array(sgd(w, [g] * n, [multiplier], [shift], stochastic=1, seed=shift))
    assert set(steps) <= {int(np.floor(exact)), int(np.floor(exact)) + 1}
    assert abs(steps.mean() - exact) < 2.5 / np.sqrt(n)


def test_row_norms_saturate():
    def norms(g, rows, shift):
        out = array("i", [0] * rows)
        reference.row_norms(out, g, array("i", [rows, len(g) // rows, shift]))
        return list(out)
    assert norms(array("b", [3, -4, -128, 0]), 2, 0) == [25, 16384]
    assert norms(array("h", [-32768] * 4), 1, 0) == [INT32_MAX]
    assert norms(array("h", [-32768] * 4), 1, 3) == [1 << 29]
    big = array("i", [INT32_MIN] * 8)  # 8 * 2^62 overflows uint64: the sum saturates
    assert norms(big, 1, 63) == [1]
    assert norms(big, 2, 62) == [3, 3]  # 4 * 2^62 = 2^64 saturates too
    assert norms(big, 1, 0) == [INT32_MAX]
    rng = np.random.default_rng(26)
    for _ in range(50):
        rows, length, shift = int(rng.integers(1, 5)), int(rng.integers(1, 30)), int(rng.integers(0, 64))
        g = rng.integers(INT32_MIN, INT32_MAX, rows * length, endpoint=True)
        expected = [min(min(sum(int(v) ** 2 for v in row), (1 << 64) - 1) >> shift, INT32_MAX)
                    for row in g.reshape(rows, length)]
        assert norms(array("i", g.tolist()), rows, shift) == expected


def topk(scores, k):
    out = array("i", [0] * k)
    reference.topk(out, array("i", scores), array("i", [len(scores), k]))
    return list(out)


def test_topk_order_and_ties():
    assert topk([5, 7, 7, 1, 7], 3) == [1, 2, 4]
    assert topk([5, 7, 7, 1, 7], 5) == [1, 2, 4, 0, 3]
    assert topk([0, 0, 0, 0], 2) == [0, 1]
    assert topk([INT32_MIN, INT32_MAX, -1, INT32_MAX], 3) == [1, 3, 2]
    assert topk([INT32_MIN, INT32_MIN + 1], 1) == [1]
    rng = np.random.default_rng(27)
    for _ in range(100):
        n = int(rng.integers(1, 60))
        scores = rng.integers(-4, 4, n).tolist()
        k = int(rng.integers(1, n + 1))
        assert topk(scores, k) == sorted(range(n), key=lambda i: (-scores[i], i))[:k]


def test_a_tensor_updated_channel_group_by_channel_group_ends_as_one_updated_whole():
    """What a lean FQT or node-perturbation plan relies on: the weight gradient of a range of
    output channels, then sgd_update of that part from its first element on, make the bytes of
    the whole tensor's gradient and update (reference; the parity tests hold the C to it)."""
    m = CaseMaker(seed=5)
    for _ in range(40):
        batch, in_n, out_n = m.dim(1, 3), m.dim(1, 30), m.dim(2, 12)
        x, g = m.s8(batch * in_n), m.s8(batch * out_n)
        w = m.s8(out_n * in_n)
        multiplier, shift = m.s32(out_n, 0, 1 << 20), m.s32(out_n, 8, 24)
        seed, zp = m.seed(), m.zero_point()
        whole, parts = bytearray(w), bytearray(w)
        gw = array("i", bytes(4 * out_n * in_n))
        reference.fc_weight_grad(gw, x, g, array("i", [batch, in_n, out_n, zp]))
        reference.sgd_update(whole, gw, multiplier, shift, array("i", [out_n * in_n, out_n, in_n, 1, seed]))
        bounds = sorted({0, out_n, *m.rng.integers(1, out_n, 2).tolist()})
        for first, end in zip(bounds, bounds[1:]):
            part = array("i", bytes(4 * (end - first) * in_n))
            reference.fc_weight_grad(part, x, g, array("i", [batch, in_n, out_n, zp, first, end - first]))
            view = memoryview(parts)[first * in_n:end * in_n]
            reference.sgd_update(view, part, memoryview(multiplier)[first:end], memoryview(shift)[first:end],
                                 array("i", [(end - first) * in_n, end - first, in_n, 1, seed, first * in_n]))
        assert parts == whole and parts != w
