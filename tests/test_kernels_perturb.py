"""qnn.perturb and unperturb: parity with the NumPy reference on the virtual
board, the xorshift32 stream against a plain step-by-step implementation, and the properties
zeroth-order training relies on: exact undo, regeneration from the seed, balanced signs."""

from array import array

import numpy as np
import pytest

from kernel_cases import CaseMaker
from mcutrain import reference
from mcutrain.reference import xorshift
from parity import assert_parity, run_reference

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def plain_xorshift(seed, count):
    """docs/kernels.md's xorshift32, one Python step at a time."""
    x, out = seed ^ 0x9E3779B9, []
    for _ in range(count):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out.append(x)
    return out


def perturbation_case(m, op):
    n = m.choice([0, 1, 7, 8, 9, 31, 32, 33, m.dim(1, 300), m.dim(1, 300)])
    t = m.s8_or_s32(n)
    if isinstance(t, bytearray):
        sigma = m.choice([1, 1, 2, 127, m.dim(1, 127)])
        if m.rng.random() < 0.2:
            t = array("b", bytes(t))  # an int8 array is int8 too
    else:
        sigma = m.choice([1, m.dim(1, 1000), INT32_MAX, m.dim(1, INT32_MAX)])
    # Random mask bytes, sometimes more than needed: perturb must keep the bits past n.
    mask = bytearray(m.rng.integers(0, 256, (n + 7) // 8 + m.choice([0, 0, 1, 3]), dtype=np.uint8).tobytes())
    return op, [t, mask, m.seed(), sigma, m.choice([1, -1])]


@pytest.mark.parametrize("op", ["perturb", "unperturb"])
def test_perturbation_parity(board, tmp_path, op):
    m = CaseMaker(seed=11 if op == "perturb" else 12)
    assert_parity(board, tmp_path, [perturbation_case(m, op) for _ in range(400)])


def broken_perturbation(m, op):
    """A call with exactly one thing wrong that the kernel must reject."""
    op, args = perturbation_case(m, op)
    t, n = args[0], len(args[0])
    kind = m.choice(["int16", "mask", "seed", "sigma", "sign"] if n else ["int16", "seed", "sigma", "sign"])
    if kind == "int16":
        args[0] = array("h", m.rng.integers(-5, 5, n).tolist())
    elif kind == "mask":
        args[1] = args[1][:(n + 7) // 8 - 1]
    elif kind == "seed":
        args[2] = m.choice([-1, 1 << 30, INT32_MIN, INT32_MAX])
    elif kind == "sigma":
        args[3] = m.choice([0, -1, INT32_MIN] + ([128, INT32_MAX] if memoryview(t).itemsize == 1 else []))
    else:
        args[4] = m.choice([0, 2, -2, INT32_MAX])
    return op, args


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=14)
    cases = [broken_perturbation(m, op) for op in ("perturb", "unperturb") for _ in range(100)]
    for op, args in cases:
        assert run_reference(op, args)[0].startswith("e" + op + ": "), (op, args)
    generic = [m.break_case(perturbation_case(m, "perturb")) for _ in range(100)]
    assert_parity(board, tmp_path, cases + generic)


def test_scalars_beyond_int32_are_bad_parameters_on_the_board(board):
    # The parity file carries int32 scalars only; a 64-bit port's glue must not truncate larger ones.
    calls = ["perturb(bytearray(3), bytearray(1), 1 << 32, 1, 1)",
             "unperturb(array('i', [0]), bytearray(1), 5, (1 << 32) + 1, 1)",
             "perturb(bytearray(3), bytearray(1), 5, 1, (1 << 32) + 1)"]
    out = board.run("import qnn\nfrom array import array\n" + "".join(
        f"try:\n    qnn.{c}\n    print('returned')\nexcept ValueError as e:\n    print(e)\n" for c in calls))
    expected = []
    for c in calls:
        with pytest.raises(ValueError) as e:
            eval("reference." + c)
        expected.append(str(e.value))
    assert out.splitlines() == expected
    assert all(line.endswith(": bad parameters") for line in expected)


def test_stream_equals_step_by_step_xorshift():
    rng = np.random.default_rng(15)
    for seed in [0, 1, (1 << 30) - 1] + rng.integers(0, 1 << 30, 20).tolist():
        count = int(rng.integers(0, 3000))
        assert xorshift.outputs(seed, count).tolist() == plain_xorshift(seed, count)


def test_rademacher_entries_are_the_output_bits_lsb_first():
    words = plain_xorshift(77, 3)
    expected = [1 if (words[i // 32] >> (i % 32)) & 1 else -1 for i in range(70)]
    assert u_of(77, 70).tolist() == expected


def u_of(seed, n):
    """u as perturb draws it: an int32 tensor of zeros moved by sigma 1 never leaves the range."""
    t = array("i", [0] * n)
    reference.perturb(t, bytearray((n + 7) // 8), seed, 1, 1)
    return np.array(t)


def test_the_same_seed_regenerates_the_same_u():
    u = u_of(1234, 5000)
    assert np.array_equal(u, u_of(1234, 5000))
    assert np.array_equal(u[:777], u_of(1234, 777))  # a prefix does not depend on the length
    assert np.mean(u != u_of(1235, 5000)) > 0.4  # neighbouring seeds give unrelated vectors
    # perturb moves an int32 tensor by exactly sign * sigma * u.
    t = array("i", [0] * 5000)
    reference.perturb(t, bytearray(625), 1234, 3, -1)
    assert np.array_equal(np.array(t), -3 * u)
    assert np.array_equal(u, xorshift.rademacher(1234, 5000))


def test_rademacher_entries_are_balanced():
    n = 1 << 16
    for seed in [0, 1, 99, (1 << 30) - 1]:
        u = u_of(seed, n)
        assert set(np.unique(u)) == {-1, 1}
        assert abs(u.sum()) < 5 * np.sqrt(n)  # 5 sigma of a fair coin
        lanes = u.reshape(-1, 32).sum(axis=0)  # every bit position of the outputs is fair
        assert np.all(np.abs(lanes) < 5 * np.sqrt(n / 32))
        assert abs(np.sum(u[1:] * u[:-1])) < 5 * np.sqrt(n)  # neighbours uncorrelated


def roundtrip(t, seed, sigma, sign):
    """perturb then unperturb; returns (t after perturb, t after both, left alone, mask)."""
    original = bytes(t)
    n = len(t)
    mask = bytearray(b"\xa5" * ((n + 7) // 8 + 2))
    left_alone = reference.perturb(t, mask, seed, sigma, sign)
    moved = bytes(t)
    reference.unperturb(t, mask, seed, sigma, sign)
    assert bytes(t) == original
    return moved, left_alone, mask


@pytest.mark.parametrize("typecode,sigma", [("b", 1), ("b", 5), ("b", 127), ("i", 1), ("i", 1000), ("i", INT32_MAX)])
def test_perturb_then_unperturb_restores_the_exact_bytes(typecode, sigma):
    rng = np.random.default_rng(sigma)
    info = np.iinfo(np.int8 if typecode == "b" else np.int32)
    for trial in range(20):
        n = int(rng.integers(16, 500)) if trial % 2 else int(rng.integers(0, 500))
        # Values at and next to both ends of the range, where perturbing would leave it.
        ends = [info.min, info.min + 1, info.max - 1, info.max]
        values = rng.choice(ends, n) if trial % 2 else rng.integers(info.min, info.max, n, endpoint=True)
        t = array(typecode, values.tolist())
        before = np.array(t, dtype=np.int64)
        seed, sign = int(rng.integers(0, 1 << 30)), int(rng.choice([1, -1]))
        moved, left_alone, mask = roundtrip(t, seed, sigma, sign)
        target = before + sign * sigma * u_of(seed, n)
        outside = (target < info.min) | (target > info.max)
        bits = np.unpackbits(np.frombuffer(bytes(mask), np.uint8), bitorder="little")
        assert np.array_equal(bits[:n].astype(bool), outside)
        assert left_alone == outside.sum()
        assert np.array_equal(np.frombuffer(moved, info.dtype), np.where(outside, before, target))
        # Bits past n are the caller's.
        past = np.unpackbits(np.frombuffer(b"\xa5" * len(mask), np.uint8), bitorder="little")
        assert np.array_equal(bits[n:], past[n:])
        if trial % 2:
            assert 0 < left_alone < n  # the ends did make perturb leave elements alone


def test_sigma_one_on_int8_left_alone_equals_clamping():
    t = bytearray(np.array([127, -128, 0, 126, -127] * 40, np.int8).tobytes())
    before = np.frombuffer(bytes(t), np.int8).astype(np.int64)
    reference.perturb(t, bytearray(25), 8, 1, 1)
    assert np.array_equal(np.frombuffer(t, np.int8), np.clip(before + u_of(8, 200), -128, 127))


def test_roundtrip_on_the_board(board):
    out = board.run("""
        import qnn
        from array import array
        def check(t, seed, sigma, sign):
            original = bytes(t)
            mask = bytearray(len(t) // 8 + 2)
            alone = qnn.perturb(t, mask, seed, sigma, sign)
            changed = bytes(t) != original
            qnn.unperturb(t, mask, seed, sigma, sign)
            print(bytes(t) == original, changed, alone > 0)
        ends = bytearray(b"\\x7f\\x80\\x7e\\x81" * 50)
        check(ends, 1, 1, 1)
        check(ends, 2, 127, -1)
        check(array("i", [2147483647, -2147483648, 0] * 70), 3, 1, -1)
        check(array("i", [2147483647, -2147483648, 0] * 70), 4, 2147483647, 1)
        check(array("b", range(-100, 100)), 5, 30, 1)
    """)
    assert out.split() == ["True", "True", "True"] * 5
