"""Parity of qnn.add with the NumPy reference on the virtual board."""

from array import array

import numpy as np

from kernel_cases import CaseMaker
from parity import assert_parity, run_reference

# qnn.ADD_SCRATCH (qnn.h): the tables' bytes, from the scratch's first word boundary.
ADD_SCRATCH = 4096


def add_case(m):
    count = m.dim(1, 64)
    (a_mult, b_mult, out_mult), (a_shift, b_shift, out_shift) = m.requant(3)
    act_min, act_max = m.act_range()
    return ("add", [m.s8(count), m.s8(count), m.s8(count),
                    m.params(count, m.zero_point(), a_mult, a_shift, m.zero_point(), b_mult, b_shift,
                             m.choice([0, 20, m.dim(0, 20)]), m.zero_point(), out_mult, out_shift, act_min, act_max)])


def with_scratch(m, case):
    """An add case with no scratch, one too short for any tables, one for the int32 tables of the
    rescaled inputs only (half the bytes), or one that holds the 64-bit tables."""
    op, args = case
    size = m.choice([0, int(m.rng.integers(1, ADD_SCRATCH // 2)), ADD_SCRATCH // 2 + int(m.rng.integers(3, 8)),
                     ADD_SCRATCH + int(m.rng.integers(3, 8))])
    return op, [*args, bytearray(size)]


def tables_case(m):
    """An add that looks its elements up in the tables (add.c): a scratch that holds them, sums
    that cannot saturate (each input's rescaling below 2^30), a right shift out. Rescaled inputs
    up to 2^30 (left shifts to 20, input shifts to +2), and output shifts around the one that
    spans int8, so that the 64-bit sums' low bits and the rounding decide outputs inside the clamp."""
    count = m.dim(1, 300)
    mult = [int(m.rng.integers(1 << 30, 1 << 31)) if m.rng.random() < 0.8 else int(m.rng.integers(0, 1 << 31))
            for _ in range(3)]
    left_shift = m.choice([20, int(m.rng.integers(0, 21))])
    shifts = [int(m.rng.integers(-12, 3)) for _ in range(2)]
    span = max(1, 8 + left_shift + max(shifts) - 7)  # about the bits of the largest |a' + b'|, less int8's
    out_shift = -min(31, max(1, span + int(m.rng.integers(-3, 4))))
    act_min, act_max = m.act_range()
    case = ("add", [m.s8(count), m.s8(count), m.s8(count),
                    m.params(count, m.zero_point(), mult[0], shifts[0], m.zero_point(), mult[1], shifts[1],
                             left_shift, m.zero_point(), mult[2], out_shift, act_min, act_max),
                    bytearray(ADD_SCRATCH + int(m.rng.integers(3, 8)))])
    return case


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
    assert_parity(board, tmp_path, [with_scratch(m, add_case(m)) for _ in range(400)], scratch=True)


def test_tables(board, tmp_path):
    m = CaseMaker(seed=36)
    assert_parity(board, tmp_path, [tables_case(m) for _ in range(300)], scratch=True)


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
    # With the tables' scratch too: sums that can saturate do not split over the inputs.
    assert_parity(board, tmp_path, cases)
    assert_parity(board, tmp_path, [(op, [*args, bytearray(ADD_SCRATCH + 3)]) for op, args in cases], scratch=True)


def tables_edge_cases():
    """The tables' edges. At int32's: a' takes every value out to 1 - 2^31 and 2^31 - 2 (saturated
    before its multiplier), b' is 0 or in [0, 128], so that the sums stay within int32 (the tables
    split them) or pass it (they cannot). At the rounding's ties: a' = a - a_zp, b' = 0 and an
    output multiplier of about 1, so that out = a' / 2^e rounded, unclamped, every tie of both
    signs at e = 1 and 2."""
    a = bytearray(np.arange(-128, 128, dtype=np.int8).tobytes())
    b = bytearray(np.arange(127, -129, -1, dtype=np.int8).tobytes())
    edges = [("add", [bytearray(256), a, b,
                      array("i", [256, 0, (1 << 31) - 1, 30, -128, b_mult, 0, 0, 0, (1 << 31) - 1, out_shift, -128, 127]),
                      bytearray(ADD_SCRATCH + 3)])
             for b_mult in (0, 1 << 30) for out_shift in (-1, -24, -31)]
    ties = [("add", [bytearray(256), a, bytearray(256),
                     array("i", [256, a_zp, 1 << 30, 1, 0, 0, 0, 0, 0, (1 << 31) - 1, -e, -128, 127]),
                     bytearray(ADD_SCRATCH + 3)])
            for a_zp in (0, 1) for e in (1, 2, 3)]
    return edges + ties


def test_tables_at_int32s_edge(board, tmp_path):
    assert_parity(board, tmp_path, tables_edge_cases(), scratch=True)


def test_each_parameter_out_of_range(board, tmp_path):
    m = CaseMaker(seed=33)
    cases = [v for _ in range(3) for v in m.with_each_param(add_case(m), values=(-(1 << 31), -129, -32, -1, 0, 21, 31, 128))]
    assert_parity(board, tmp_path, cases)


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=32)
    cases = [m.break_case(add_case(m)) for _ in range(200)]
    assert sum(run_reference(*case)[0].startswith("e") for case in cases) > len(cases) // 2
    assert_parity(board, tmp_path, cases)
