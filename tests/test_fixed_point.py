"""Hyperparameters become the same integers on the board and on the host."""

import math

import pytest

from mcutrain import fixed, schedule

SETTINGS = [0.01, 0.005, 1e-4, 0.3, 1.0, 3.0, 123.456, 1e-7, 7.5e-3, 0.1 / 3, 2.0 ** -20, 65535.0]

PROGRAM = """
from mcutrain import fixed, schedule
xs = %r
for x in xs:
    a = fixed.from_float(x)
    print(a, fixed.to_step(a), fixed.mul(a, fixed.from_float(0.0625)), fixed.div(fixed.from_int(3), a))
print([schedule.cosine(s, 1000) for s in range(0, 1001, 37)])
"""


def host_output():
    lines = []
    for x in SETTINGS:
        a = fixed.from_float(x)
        lines.append(f"{a} {fixed.to_step(a)} {fixed.mul(a, fixed.from_float(0.0625))} "
                     f"{fixed.div(fixed.from_int(3), a)}")
    lines.append(str([schedule.cosine(s, 1000) for s in range(0, 1001, 37)]))
    return lines


def test_board_and_host_derive_the_same_integers(board):
    assert board.run(PROGRAM % (SETTINGS,)).splitlines() == host_output()


@pytest.mark.parametrize("x", SETTINGS)
def test_from_float_keeps_16_significant_bits(x):
    m, e = fixed.from_float(x)
    assert m < 1 << 16 and abs(m * 2.0 ** e - x) <= x * 2.0 ** -16


@pytest.mark.parametrize("x", SETTINGS)
def test_steps_are_what_sgd_update_takes(x):
    multiplier, shift = fixed.to_step(fixed.from_float(x))
    assert 0 <= multiplier < 1 << 31 and 0 <= shift <= 62
    if x < 2 ** 31:
        assert abs(multiplier / 2.0 ** shift - x) <= x * 2.0 ** -15


def test_division_and_product():
    a, b = fixed.from_float(0.3), fixed.from_float(7.0)
    # Exact to 31 bits on the 16-bit inputs; within their rounding of the real values.
    exact = fixed.to_float(a) / fixed.to_float(b)
    assert abs(fixed.to_float(fixed.div(a, b)) - exact) <= exact * 2.0 ** -30
    assert abs(fixed.to_float(fixed.div(a, b)) - 0.3 / 7) <= 0.3 / 7 * 2.0 ** -15
    assert fixed.to_float(fixed.mul(a, b)) == fixed.to_float(a) * fixed.to_float(b)
    with pytest.raises(ZeroDivisionError):
        fixed.div(a, fixed.from_int(0))
    with pytest.raises(ValueError):
        fixed.from_float(float("inf"))


def test_cosine_table_is_the_cosine():
    for i, v in enumerate(schedule._HALF_COSINE):
        assert v == round(32768 * (1 + math.cos(math.pi * i / 64)) / 2)
    for step in range(0, 1000, 7):
        exact = 32768 * (1 + math.cos(math.pi * step / 1000)) / 2
        assert abs(schedule.cosine(step, 1000) - exact) <= 40
    assert schedule.cosine(0, 10) == 32768 and schedule.cosine(10, 10) == 0
