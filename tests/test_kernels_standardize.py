"""qnn.standardize and qnn.channel_norms (per-channel statistics in sgd_update's layout):
parity with the NumPy reference on the virtual board, and their properties."""

from array import array

import numpy as np

from kernel_cases import CaseMaker
from mcutrain import reference
from parity import assert_parity, run_reference

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def layout(m):
    """(count, channels, inner): rows of a weight, channels last, or neither (count not a multiple)."""
    channels, inner = m.dim(1, 9), m.choice([1, m.dim(1, 30)])
    count = channels * inner * m.choice([1, 1, m.dim(1, 4)]) + m.choice([0, 0, m.dim(0, 5)])
    return count, channels, inner


def standardize_case(m):
    count, channels, inner = layout(m)
    g = m.choice([lambda: m.s32(count), lambda: m.s32(count, -3, 3), lambda: m.s32(count, -40000, 40000),
                  lambda: array("i", m.rng.choice([INT32_MIN, INT32_MAX, 0, 1], count).tolist()),
                  lambda: array("i", [m.dim(-5, 5)] * count)])()
    q_bits = m.choice([0, 30, m.dim(0, 30), 12])
    return "standardize", [g, m.params(count, channels, inner, q_bits)]


def channel_norms_case(m):
    count, channels, inner = layout(m)
    shift = m.choice([0, 63, m.dim(0, 63), m.dim(0, 20)])
    return "channel_norms", [m.s32(channels), m.grad(count), m.params(count, channels, inner, shift)]


def test_parity(board, tmp_path):
    m = CaseMaker(seed=31)
    cases = [standardize_case(m) for _ in range(300)] + [channel_norms_case(m) for _ in range(300)]
    assert_parity(board, tmp_path, cases)


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=32)
    cases = []
    for _ in range(40):
        op, args = standardize_case(m)
        p = list(args[-1])
        i, bad = m.choice([(0, 0), (1, 0), (2, -1), (3, -1), (3, 31)])
        p[i] = bad
        cases.append((op, [args[0], array("i", p)]))
        op, args = channel_norms_case(m)
        p = list(args[-1])
        i, bad = m.choice([(0, 0), (1, 0), (2, -1), (3, 64), (3, -1)])
        p[i] = bad
        cases.append((op, [args[0], args[1], array("i", p)]))
    cases.append(("channel_norms", [array("i", [0]), array("q", [1]), array("i", [1, 1, 1, 0])]))
    for op, args in cases:
        assert run_reference(op, args)[0] == "e" + op + ": bad parameters", (op, args)
    cases += [m.break_case(standardize_case(m)) for _ in range(100)]
    cases += [m.break_case(channel_norms_case(m)) for _ in range(100)]
    assert_parity(board, tmp_path, cases)


def standardized(values, channels=1, inner=None, q_bits=12):
    g = array("i", values)
    reference.standardize(g, array("i", [len(values), channels, inner or len(values), q_bits]))
    return list(g)


def test_standardize_gives_zero_mean_unit_std_per_channel_whatever_the_scale():
    rng = np.random.default_rng(3)
    values = rng.normal(0, 1, (4, 50))
    for scale in (3.0, 1e3, 1e8):
        g = standardized((values * scale).astype(np.int64).ravel().tolist(), channels=4, inner=50)
        g = np.array(g).reshape(4, 50) / 4096
        assert np.allclose(g.mean(axis=1), 0, atol=1e-3)
        assert np.allclose(g.std(axis=1), 1, atol=2e-3)
    # Channels last: channel of element i is i % channels.
    g = np.array(standardized((values.T * [[1, 10, 100, 1000]]).astype(np.int64).ravel().tolist(),
                              channels=4, inner=1)).reshape(50, 4) / 4096
    assert np.allclose(g.std(axis=0), 1, atol=2e-3)


def test_standardize_edges():
    assert standardized([7, 7, 7]) == [0, 0, 0]  # std 0
    assert standardized([5]) == [0]
    assert standardized([1, -1], q_bits=0) == [1, -1]
    # v = g >> 17 = [16383, -16384], mean rhaz(-1/2) = -1: d = [16384, -16383] (15 bits kept).
    assert standardized([INT32_MAX, INT32_MIN], q_bits=30) == [1073774593, -1073709055]
    assert standardized([0] * 99 + [1 << 20], q_bits=30)[-1] == INT32_MAX  # saturates (~9.9 * 2^30)


def test_channel_norms_sums_squares_per_channel():
    out = array("i", [0, 0, 0])
    g = array("b", [1, 2, 3, -4, 5, 6, 7, 8])  # channels last: 0: 1,-4,7  1: 2,5,8  2: 3,6
    reference.channel_norms(out, g, array("i", [8, 3, 1, 0]))
    assert list(out) == [66, 93, 45]
    reference.channel_norms(out, array("i", [INT32_MIN] * 6), array("i", [6, 3, 2, 0]))
    assert list(out) == [INT32_MAX] * 3
