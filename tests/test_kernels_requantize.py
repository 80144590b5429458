"""Parity of qnn.requantize with the NumPy reference on the virtual board."""

from kernel_cases import CaseMaker
from parity import assert_parity, run_reference


def requantize_case(m):
    channels = m.dim(1, 8)
    count = m.choice([channels * m.dim(1, 8), m.dim(1, 64)])  # not always whole rows of channels
    acc = m.choice([lambda: m.s32(count), lambda: m.s32(count, -(1 << 16), 1 << 16), lambda: m.s32(count, -300, 300)])()
    act_min, act_max = m.act_range()
    return ("requantize", [m.s8(count), acc, *m.requant(channels),
                           m.params(count, channels, m.zero_point(), act_min, act_max)])


def test_parity(board, tmp_path):
    m = CaseMaker(seed=41)
    assert_parity(board, tmp_path, [requantize_case(m) for _ in range(400)])


def test_each_parameter_out_of_range(board, tmp_path):
    m = CaseMaker(seed=43)
    assert_parity(board, tmp_path, [v for _ in range(3) for v in m.with_each_param(requantize_case(m))])


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=42)
    cases = [m.break_case(requantize_case(m)) for _ in range(200)]
    assert sum(run_reference(*case)[0].startswith("e") for case in cases) > len(cases) // 2
    assert_parity(board, tmp_path, cases)
