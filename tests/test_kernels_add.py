"""Parity of qnn.add with the NumPy reference on the virtual board."""

from array import array

import numpy as np

from kernel_cases import CaseMaker
from parity import assert_parity, run_reference


def add_case(m):
    count = m.dim(1, 64)
    (a_mult, b_mult, out_mult), (a_shift, b_shift, out_shift) = m.requant(3)
    act_min, act_max = m.act_range()
    return ("add", [m.s8(count), m.s8(count), m.s8(count),
                    m.params(count, m.zero_point(), a_mult, a_shift, m.zero_point(), b_mult, b_shift,
                             m.choice([0, 20, m.dim(0, 20)]), m.zero_point(), out_mult, out_shift, act_min, act_max)])


def unclamped_add_case(rng, left_shift, exponent):
    """a' alone, seen whole: a takes all 256 values, b sits on its zero point, and the output
    requantization is the identity (x << 1 times 2^30 / 2^31). a's right shift is `exponent` and
    its multiplier the largest (within [2^30, 2^31) at most) that keeps every a' inside int8: no
    clamp hides a wrong low bit, and the smaller the exponent, the fewer the rounding hides (left
    shifts from 15 take two 32-bit products on the Cortex-M0)."""
    from mcutrain.reference.requant import requantize
    a_zp, b_zp = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    d = (np.arange(-128, 128) - a_zp) << left_shift
    a_mult = min((1 << 31) - 1, (127 << (31 + exponent)) // int(np.abs(d).max() or 1))
    a_mult = int(rng.integers(a_mult // 2, a_mult + 1))
    while np.abs(requantize(d, a_mult, -exponent)).max() > 127:
        a_mult -= 1 + a_mult // 1000
    return ("add", [bytearray(256), bytearray(np.arange(-128, 128, dtype=np.int8).tobytes()), bytearray([b_zp & 0xFF] * 256),
                    array("i", [256, a_zp, a_mult, -exponent, b_zp, (1 << 31) - 1, -1, left_shift, 0, 1 << 30, 1,
                                -128, 127])])


def unclamped_add_cases(rng):
    return [unclamped_add_case(rng, left_shift, exponent) for left_shift in range(21) for exponent in (0, 2, 5, 9)]


def test_rescaled_inputs_are_exact(board, tmp_path):
    assert_parity(board, tmp_path, unclamped_add_cases(np.random.default_rng(34)))


def test_parity(board, tmp_path):
    m = CaseMaker(seed=31)
    assert_parity(board, tmp_path, [add_case(m) for _ in range(400)])


def test_saturating_sum(board, tmp_path):
    """Both scaled inputs at int32's limits: their sum saturates before the output requant."""
    cases = []
    for x, zp, shift in ((127, -128, 30), (-128, 127, 30), (127, -128, 10)):
        cases.append(("add", [bytearray(1), bytearray([x & 0xFF]), bytearray([x & 0xFF]),
                              CaseMaker(0).params(1, zp, (1 << 31) - 1, shift, zp, (1 << 31) - 1, shift, 20,
                                                  0, 1 << 30, -30, -128, 127)]))
    # out = sum / 2^31 rounded: 1 and -1 from the saturated sum; an unsaturated sum (about
    # +-2^32) would give +-2, a wrapped one about 0.
    assert [run_reference(*case)[1][0] for case in cases] == [b"\x01", b"\xff", b"\x01"]
    assert_parity(board, tmp_path, cases)


def test_each_parameter_out_of_range(board, tmp_path):
    m = CaseMaker(seed=33)
    cases = [v for _ in range(3) for v in m.with_each_param(add_case(m), values=(-(1 << 31), -129, -32, -1, 0, 21, 31, 128))]
    assert_parity(board, tmp_path, cases)


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=32)
    cases = [m.break_case(add_case(m)) for _ in range(200)]
    assert sum(run_reference(*case)[0].startswith("e") for case in cases) > len(cases) // 2
    assert_parity(board, tmp_path, cases)
