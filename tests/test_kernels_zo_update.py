"""Parity and properties of seeds and zo_update (the zeroth-order update that regenerates its
Rademacher vectors instead of storing a gradient)."""

from array import array

import numpy as np

from kernel_cases import CaseMaker
from mcutrain import reference
from mcutrain.reference import xorshift
from parity import assert_parity


def zo_case(m, int32=False):
    if not int32 and m.rng.random() < 0.3:
        return trainer_zo_case(m)
    channels, inner = m.dim(1, 9), m.choice([1, m.dim(1, 30)])
    count = channels * inner * m.choice([1, 1, m.dim(1, 4)]) + m.choice([0, 0, m.dim(0, 5)])
    n = m.choice([1, 2, m.dim(1, 20), 128])
    seeds = array("i", m.rng.integers(0, 1 << 30, n).tolist())
    coeff_limit = m.choice([100, 1 << 16, 1 << 31])
    coeffs = array("i", m.rng.integers(-coeff_limit, coeff_limit, n).tolist())
    multiplier = array("i", m.rng.integers(0, 1 << 31, channels).tolist())
    shift = array("i", m.rng.integers(0, 63, channels).tolist())
    w = m.s32(count) if int32 else m.s8(count)
    params = m.params(count, channels, inner, m.choice([0, 1]), int(m.rng.integers(0, 1 << 30)))
    return ("zo_update", [w, seeds, coeffs, multiplier, shift, params])


def trainer_zo_case(m):
    """zo_update as the ZO trainer calls it (the Cortex-M0's update loop in update.c): int8 weights,
    stochastic rounding, shifts past 32 that leave most steps inside int8, so that no clamp hides a
    wrong bit (test_kernels_updates.trainer_sgd_case), and channels that change inside the blocks
    of 32 elements the kernel sums at a time."""
    channels, inner = m.dim(1, 6), m.choice([1, m.dim(1, 40)])
    count = channels * inner * m.choice([1, m.dim(1, 3)]) + m.choice([0, m.dim(0, 40)])
    n = m.choice([1, 10, m.dim(1, 20)])
    seeds = array("i", m.rng.integers(0, 1 << 30, n).tolist())
    coeff_limit = m.choice([1 << 10, 1 << 20, 1 << 26])
    coeffs = array("i", m.rng.integers(-coeff_limit, coeff_limit, n).tolist())
    multiplier = m.choice([lambda: m.s32(channels, 1 << 16, (1 << 31) - 1), lambda: m.s32(channels, 1, 1 << 26)])()
    largest = sum(abs(c) for c in coeffs) or 1
    shift = array("i", [min(62, max(33, (largest * v).bit_length() - 7 + m.dim(0, 4))) for v in multiplier])
    params = m.params(count, channels, inner, 1, int(m.rng.integers(0, 1 << 30)))
    return ("zo_update", [m.s8(count), seeds, coeffs, multiplier, shift, params])


def seeds_case(m):
    state = array("i", [m.choice([int(m.rng.integers(0, 1 << 30)), int(m.rng.integers(-(1 << 31), 1 << 31))])])
    return ("seeds", [array("i", [0] * m.dim(0, 40)), state])


def test_parity(board, tmp_path):
    m = CaseMaker(seed=11)
    cases = [zo_case(m, int32=i % 3 == 0) for i in range(300)] + [seeds_case(m) for _ in range(300)]
    assert_parity(board, tmp_path, cases)


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=12)
    cases = [m.break_case(zo_case(m)) for _ in range(200)] + [m.break_case(seeds_case(m)) for _ in range(50)]
    cases.append(("seeds", [array("i", [1]), array("i", [0x9E3779B9 - (1 << 32)])]))  # a zero state
    bad = zo_case(m)
    bad[1][1] = array("i", [0] * 129)  # more queries than the kernel holds streams for
    bad[1][2] = array("i", [1] * 129)
    cases.append(bad)
    assert_parity(board, tmp_path, cases)


def test_update_is_the_sum_of_the_queries_directions():
    """With rhaz rounding and a unit step, w moves by exactly -sum_q coeff_q * u_q."""
    seeds, coeffs = [5, 77, 1 << 29], [3, -2, 1]
    w = array("i", [0] * 100)
    reference.zo_update(w, array("i", seeds), array("i", coeffs), array("i", [1]), array("i", [0]),
                        array("i", [100, 1, 100, 0, 0]))
    expected = -sum(c * xorshift.rademacher(s, 100) for s, c in zip(seeds, coeffs))
    assert list(w) == expected.tolist()


def test_seed_stream_continues_across_calls_and_matches_the_rademacher_stream():
    state = array("i", [12345])
    first, second = array("i", [0] * 3), array("i", [0] * 2)
    reference.seeds(first, state)
    reference.seeds(second, state)
    stream = xorshift.outputs(12345, 5).astype(np.int64) >> 2
    assert list(first) + list(second) == stream.tolist()
    assert all(0 <= s < 1 << 30 for s in stream)
