"""Parity of fill (zeroing and setting int8 / int32 tensors) with the reference."""

from array import array

from kernel_cases import CaseMaker
from parity import assert_parity


def test_parity_and_bad_values(board, tmp_path):
    m = CaseMaker(seed=21)
    cases = []
    for _ in range(300):
        n = m.dim(0, 50)
        t = m.s8(n) if m.rng.random() < 0.5 else m.s32(n)
        value = m.choice([0, -128, 127, 128, -129, int(m.rng.integers(-(1 << 31), 1 << 31))])
        cases.append(("fill", [t, value]))
    cases.append(("fill", [array("h", [1, 2]), 0]))  # int16 is not a tensor type fill takes
    assert_parity(board, tmp_path, cases)
