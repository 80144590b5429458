"""Parity of qnn.max_pool, qnn.avg_pool and qnn.global_avg_pool with the NumPy reference."""

import pytest

from kernel_cases import CaseMaker
from parity import assert_parity, run_reference


def usual_axis(m):
    """(size, k, stride, pad, out_size) of a 2x2 stride 2 pool's axis, the models' pool (pool.c's
    max_2x2), a padding of 1 putting windows across the edge."""
    size, pad = m.dim(2, 9), m.choice([0, 0, 1])
    return size, 2, 2, pad, m.dim(1, (size - 1 + pad) // 2 + 1)


def pool_case(m, op):
    batch, c = m.dim(1, 2), m.dim(1, 6)
    axis = usual_axis if m.rng.random() < 0.3 else (lambda m: m.window_axis(pool=True))
    in_h, k_h, stride_h, pad_top, out_h = axis(m)
    in_w, k_w, stride_w, pad_left, out_w = axis(m)
    act_min, act_max = m.act_range()
    return (op, [m.s8(batch * out_h * out_w * c), m.s8(batch * in_h * in_w * c),
                 m.params(batch, in_h, in_w, c, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top, pad_left,
                          act_min, act_max)])


def global_case(m):
    batch, h, w, c = m.dim(1, 3), m.dim(1, 9), m.dim(1, 9), m.dim(1, 8)
    act_min, act_max = m.act_range()
    return ("global_avg_pool", [m.s8(batch * c), m.s8(batch * h * w * c), m.params(batch, h, w, c, act_min, act_max)])


@pytest.mark.parametrize("op", ["max_pool", "avg_pool"])
def test_pool_parity(board, tmp_path, op):
    m = CaseMaker(seed=21)
    cases = [pool_case(m, op) for _ in range(400)]
    p = [list(args[-1]) for _, args in cases]
    assert sum(v[8] == 2 for v in p) >= 30 and sum(v[10] > 0 and v[11] > 0 for v in p) >= 30
    assert sum(v[6] == v[7] == 1 for v in p) >= 20 and sum(v[6] > v[1] for v in p) >= 10
    usual = [v for v in p if v[6:10] == [2, 2, 2, 2]]
    assert len(usual) >= 60 and sum(v[10] + v[11] > 0 for v in usual) >= 20
    assert sum(v[12:] != [-128, 127] for v in usual) >= 20, "clamped by the activation"
    assert_parity(board, tmp_path, cases)


def test_global_avg_pool_parity(board, tmp_path):
    m = CaseMaker(seed=22)
    assert_parity(board, tmp_path, [global_case(m) for _ in range(300)])


def test_window_limits(board, tmp_path):
    """Windows must hold an input and at most 2^24 of them; at the limits the call succeeds."""
    def pool(op, *p):
        batch, in_h, in_w, c, out_h, out_w = p[:6]
        return (op, [bytearray(batch * out_h * out_w * c), bytearray(b"\x81" * (batch * in_h * in_w * c)),
                     CaseMaker(0).params(*p)])
    accepted = [
        pool("avg_pool", 1, 3, 3, 1, 2, 2, 2, 2, 2, 2, 1, 1, -128, 127),  # last window on the last input
        pool("avg_pool", 1, 2, 1, 1, 1, 1, 1 << 12, 1 << 12, 1, 1, 0, 0, -128, 127),  # k_h * k_w == 2^24
        pool("max_pool", 1, 2, 2, 1, 1, 1, 3, 3, 1, 1, 2, 2, -128, 127),  # pad == k - 1
        ("global_avg_pool", [bytearray(1), bytearray(b"\x80" * (1 << 12)), CaseMaker(0).params(1, 1, 1 << 12, 1, -128, 127)]),
    ]
    rejected = [
        pool("avg_pool", 1, 3, 3, 1, 3, 2, 2, 2, 2, 2, 1, 1, -128, 127),  # last row window past the input
        pool("max_pool", 1, 3, 3, 1, 2, 2, 2, 2, 2, 2, 1, 2, -128, 127),  # pad_left == k_w
        pool("avg_pool", 1, 2, 1, 1, 1, 1, (1 << 12) + 1, 1 << 12, 1, 1, 0, 0, -128, 127),  # > 2^24 taps
        pool("max_pool", 1, 3, 3, 1, 2, 2, 2, 2, 1 << 30, 1, 0, 0, -128, 127),  # huge stride
    ]
    assert all(run_reference(*case)[0] == "r0" for case in accepted)
    assert all(run_reference(*case)[0].endswith("bad parameters") for case in rejected)
    assert_parity(board, tmp_path, accepted + rejected)


def test_shape_products_cannot_wrap(board, tmp_path):
    """batch * in_h * in_w * c = 2^64, 0 modulo 2^64: an empty input must not match it."""
    big = 1 << 16
    p = CaseMaker(0).params(big, big, big, big, 1, 1, 1, 1, 1, 1, 0, 0, -128, 127)
    cases = [(op, [bytearray(1), bytearray(), p]) for op in ("max_pool", "avg_pool")]
    assert all(run_reference(*case)[0].endswith("input buffer length does not match the shape") for case in cases)
    assert_parity(board, tmp_path, cases)


def test_each_parameter_out_of_range(board, tmp_path):
    m = CaseMaker(seed=24)
    cases = [v for op in ("max_pool", "avg_pool") for _ in range(2) for v in m.with_each_param(pool_case(m, op))]
    cases += [v for _ in range(2) for v in m.with_each_param(global_case(m))]
    assert_parity(board, tmp_path, cases)


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=23)
    cases = [m.break_case(pool_case(m, op)) for op in ("max_pool", "avg_pool") for _ in range(200)]
    cases += [m.break_case(global_case(m)) for _ in range(200)]
    assert sum(run_reference(*case)[0].startswith("e") for case in cases) > len(cases) // 2
    assert_parity(board, tmp_path, cases)
