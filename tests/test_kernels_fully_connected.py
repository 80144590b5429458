"""Parity of qnn.fully_connected with the NumPy reference on the virtual board."""

from kernel_cases import CaseMaker
from parity import assert_parity


def fc_case(m):
    batch, in_n, out_n = m.dim(1, 3), m.dim(1, 40), m.dim(1, 24)
    in_zp, out_zp = m.zero_point(), m.zero_point()
    act_min, act_max = m.act_range()
    return ("fully_connected", [
        m.s8(batch * out_n), m.s8(batch * in_n), m.s8(out_n * in_n), m.bias(out_n),
        *m.requant(out_n), m.params(batch, in_n, out_n, in_zp, out_zp, act_min, act_max)])


def test_parity(board, tmp_path):
    m = CaseMaker(seed=1)
    assert_parity(board, tmp_path, [fc_case(m) for _ in range(300)])


def test_a_scratch_changes_no_output(board, tmp_path):
    m = CaseMaker(seed=3)
    assert_parity(board, tmp_path, [m.with_scratch(fc_case(m)) for _ in range(100)])


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=2)
    cases = [m.break_case(fc_case(m)) for _ in range(200)]
    assert_parity(board, tmp_path, cases)
