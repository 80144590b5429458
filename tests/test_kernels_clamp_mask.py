"""Parity of qnn.clamp_mask with the NumPy reference on the virtual board."""

from array import array

import numpy as np

from kernel_cases import CaseMaker
from parity import assert_parity, run_reference


def mask_case(m):
    count = m.choice([m.dim(1, 64), 1, m.dim(100, 400)])
    act_min, act_max = m.act_range()
    # y often sits on the bounds, where the mask must cut.
    near = np.clip([act_min, act_max, act_min + 1, act_max - 1, -128, 127, 0], -128, 127)
    y = bytearray(m.rng.choice(near, count).astype(np.int8).tobytes())
    y = y if m.rng.random() < 0.7 else m.s8(count)
    return ("clamp_mask", [m.grad(count), y, m.params(count, act_min, act_max)])


def test_parity(board, tmp_path):
    m = CaseMaker(seed=301)
    cases = [mask_case(m) for _ in range(300)]
    sizes = [memoryview(args[0]).itemsize for _, args in cases]
    assert all(sizes.count(size) >= 60 for size in (1, 2, 4)), "every gradient type"
    assert sum(tuple(args[-1][1:]) == (-128, -128) for _, args in cases) >= 20, "empty range"
    assert_parity(board, tmp_path, cases)


def test_masks_outputs_at_or_beyond_the_bounds():
    """The reference against the definition, on a hand-made ReLU6-like case."""
    g = array("h", [100, -200, 300, -400, 500, 600])
    y = bytearray([0x80, 0, 1, 5, 6, 7])  # -128, 0, 1, 5, 6, 7
    assert run_reference("clamp_mask", [g, y, array("i", [6, 0, 6])]) == ("r0", [
        array("h", [0, 0, 300, -400, 0, 0]).tobytes(), bytes(y), array("i", [6, 0, 6]).tobytes()])


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=302)
    cases = [m.break_case(mask_case(m)) for _ in range(200)]
    cases += [v for _ in range(2) for v in m.with_each_param(mask_case(m))]
    for typecode in ("q", "d"):
        op, args = mask_case(m)
        args[0] = array(typecode, [0] * len(args[0]))
        assert run_reference(op, args)[0] == "eclamp_mask: bad parameters"
        cases.append((op, args))
    assert_parity(board, tmp_path, cases)
