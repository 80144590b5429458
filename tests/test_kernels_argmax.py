"""Parity of qnn.argmax with the NumPy reference on the virtual board."""

from array import array

from kernel_cases import CaseMaker
from parity import assert_parity, run_reference


def argmax_case(m):
    batch, classes = m.dim(1, 4), m.dim(1, 40)
    return ("argmax", [array("i", [-1] * batch), m.s8(batch * classes), m.params(batch, classes)])


def test_parity(board, tmp_path):
    m = CaseMaker(seed=51)
    assert_parity(board, tmp_path, [argmax_case(m) for _ in range(400)])


def test_ties_go_to_the_first_index(board, tmp_path):
    case = ("argmax", [array("i", [0, 0]), bytearray([0x80, 5, 5, 0x7F, 0x7F, 0x80]), array("i", [2, 3])])
    assert run_reference(*case)[1][0] == array("i", [1, 0]).tobytes()
    assert_parity(board, tmp_path, [case])


def test_each_parameter_out_of_range(board, tmp_path):
    m = CaseMaker(seed=53)
    assert_parity(board, tmp_path, [v for _ in range(3) for v in m.with_each_param(argmax_case(m))])


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=52)
    cases = [m.break_case(argmax_case(m)) for _ in range(200)]
    assert sum(run_reference(*case)[0].startswith("e") for case in cases) > len(cases) // 2
    assert_parity(board, tmp_path, cases)
