"""Parity of qnn.bias_grad with the NumPy reference on the virtual board."""

from array import array

import numpy as np

from kernel_cases import CaseMaker
from mcutrain import reference
from parity import assert_parity, run_reference

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def bias_case(m):
    rows, channels = m.choice([(m.dim(1, 40), m.dim(1, 17)), (1, m.dim(1, 9)), (m.dim(1, 300), m.dim(1, 3))])
    return ("bias_grad", [m.accumulator(channels), m.grad(rows * channels), m.params(rows, channels)])


def test_parity(board, tmp_path):
    m = CaseMaker(seed=201)
    cases = [bias_case(m) for _ in range(300)]
    sizes = [memoryview(args[1]).itemsize for _, args in cases]
    assert all(sizes.count(size) >= 60 for size in (1, 2, 4)), "every gradient type"
    saturated = 0
    for case in cases:
        before, after = (np.frombuffer(b, np.int32) for b in (case[1][0], run_reference(*case)[1][0]))
        saturated += bool(np.any(((after == INT32_MIN) | (after == INT32_MAX)) & (after != before)))
    assert saturated >= 30, "saturation"
    assert_parity(board, tmp_path, cases)


def test_sums_each_channel_over_the_rows():
    """The reference against the definition, on a hand-made case."""
    gb = array("i", [10, (1 << 31) - 3, -(1 << 31) + 1])
    g = array("h", [1, 2, -3, 4, 5, -6, -7, 8, 9])  # rows of 3 channels
    assert reference.bias_grad(gb, g, array("i", [3, 3])) == 0
    assert list(gb) == [10 + 1 + 4 - 7, (1 << 31) - 1, -(1 << 31) + 1 - 3 - 6 + 9]
    # The sum saturates once, at the end: a running saturation would end at INT32_MAX - 10.
    gb = array("i", [(1 << 31) - 1])
    reference.bias_grad(gb, array("i", [5, -10]), array("i", [2, 1]))
    assert list(gb) == [(1 << 31) - 1 - 5]


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=202)
    cases = [m.break_case(bias_case(m)) for _ in range(200)]
    cases += [v for _ in range(2) for v in m.with_each_param(bias_case(m))]
    for typecode in ("q", "d"):
        op, args = bias_case(m)
        args[1] = array(typecode, [0] * len(args[1]))
        assert run_reference(op, args)[0] == "ebias_grad: bad parameters"
        cases.append((op, args))
    assert_parity(board, tmp_path, cases)
