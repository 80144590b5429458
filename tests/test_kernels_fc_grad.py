"""Parity of qnn.fc_weight_grad and qnn.fc_input_grad with the NumPy reference on the virtual
board, and the reference against the definition (the adjoints of the fully connected layer)."""

from array import array

import numpy as np

from kernel_cases import CaseMaker
from mcutrain import reference
from parity import assert_parity, run_reference

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def dims(m):
    """batch, in_features, out_features; sometimes a batch (the weight gradient's sum) or
    out_features (the input gradient's) past 128, where the kernel's 32-bit partial sums end."""
    batch, in_n, out_n = m.dim(1, 4), m.dim(1, 33), m.dim(1, 17)
    if m.rng.random() < 0.15:
        batch, in_n, out_n = m.choice([(m.dim(129, 300), m.dim(1, 3), m.dim(1, 3)),
                                       (m.dim(1, 2), m.dim(1, 3), m.dim(129, 300))])
    return batch, in_n, out_n


def weight_case(m):
    batch, in_n, out_n = dims(m)
    if m.rng.random() < 0.3:  # a range of output features [first, first + rows)
        first = m.dim(0, out_n - 1)
        rows = m.dim(1, out_n - first)
        return ("fc_weight_grad", [m.accumulator(rows * in_n), m.s8(batch * in_n), m.grad(batch * out_n),
                                   m.params(batch, in_n, out_n, m.zero_point(), first, rows)])
    return ("fc_weight_grad", [m.accumulator(out_n * in_n), m.s8(batch * in_n), m.grad(batch * out_n),
                               m.params(batch, in_n, out_n, m.zero_point())])


def input_case(m):
    batch, in_n, out_n = dims(m)
    return ("fc_input_grad", [m.s32(batch * in_n), m.s8(out_n * in_n), m.grad(batch * out_n),
                              m.params(batch, in_n, out_n)])


def aligned_case(m, op):
    """A long sum whose terms all have the same sign and the largest size: x - in_zp (or w) and
    g at their ends. It overflows any 32-bit partial sum of more than 128 terms."""
    size = m.choice([1, 2, 4])
    dtype = {1: np.int8, 2: np.int16, 4: np.int32}[size]
    x_end, g_end = m.choice([-128, 127]), m.choice([np.iinfo(dtype).min, np.iinfo(dtype).max])
    long_sum, in_n = m.dim(129, 400), m.dim(1, 3)
    batch, out_n = (long_sum, m.dim(1, 3)) if op == "fc_weight_grad" else (m.dim(1, 2), long_sum)
    g = m.grad(batch * out_n, size)  # for its buffer type; the values are replaced
    data = np.full(batch * out_n, g_end, dtype).tobytes()
    if isinstance(g, bytearray):
        g = bytearray(data)
    else:
        g = array(g.typecode)
        g.frombytes(data)
    if op == "fc_weight_grad":
        x = bytearray(np.full(batch * in_n, x_end, np.int8).tobytes())
        return (op, [m.accumulator(out_n * in_n), x, g, m.params(batch, in_n, out_n, -1 - x_end)])
    w = bytearray(np.full(out_n * in_n, x_end, np.int8).tobytes())
    return (op, [m.s32(batch * in_n), w, g, m.params(batch, in_n, out_n)])


def saturates(case):
    """Whether the reference's int32 result reaches an end of int32 somewhere it was not before."""
    before = np.frombuffer(case[1][0], np.int32)
    after = np.frombuffer(run_reference(*case)[1][0], np.int32)
    return bool(np.any(((after == INT32_MIN) | (after == INT32_MAX)) & (after != before)))


def assert_edges_covered(cases):
    sizes = [memoryview(args[2]).itemsize for _, args in cases]
    assert all(sizes.count(size) >= 60 for size in (1, 2, 4)), "every gradient type"
    assert sum(saturates(case) for case in cases) >= 30, "saturation"
    assert sum(min(args[-1][:3]) == 1 for _, args in cases) >= 30, "a dimension of 1"
    assert sum(max(args[-1][0], args[-1][2]) > 128 for _, args in cases) >= 20, "sums past 128 terms"


def test_weight_grad_parity(board, tmp_path):
    m = CaseMaker(seed=101)
    cases = [weight_case(m) for _ in range(300)] + [aligned_case(m, "fc_weight_grad") for _ in range(20)]
    assert_edges_covered(cases)
    zero_points = [args[-1][3] for _, args in cases]
    assert zero_points.count(-128) >= 20 and zero_points.count(127) >= 20, "input zero points"
    assert_parity(board, tmp_path, cases)


def test_input_grad_parity(board, tmp_path):
    m = CaseMaker(seed=102)
    cases = [input_case(m) for _ in range(300)] + [aligned_case(m, "fc_input_grad") for _ in range(20)]
    assert_edges_covered(cases)
    assert_parity(board, tmp_path, cases)


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=103)
    cases = [m.break_case(make(m)) for make in (weight_case, input_case) for _ in range(150)]
    cases += [v for make in (weight_case, input_case) for v in m.with_each_param(make(m))]
    # Elements of 8 bytes are not a gradient type.
    for make in (weight_case, input_case):
        for typecode in ("q", "d"):
            op, args = make(m)
            args[2] = array(typecode, [0] * len(args[2]))
            cases.append((op, args))
            assert run_reference(op, args)[0] == f"e{op}: bad parameters"
    assert_parity(board, tmp_path, cases)


def test_reference_is_the_adjoint_of_the_layer():
    """<g, acc> for the layer's accumulators acc[b, o] = sum_i (x[b, i] - in_zp) * w[o, i], written
    as loops, equals <w, weight_grad> and <x - in_zp, input_grad>. int8 and int16 gradients:
    nothing saturates."""
    m = CaseMaker(seed=104)
    for _ in range(40):
        batch, in_n, out_n, in_zp = m.dim(1, 4), m.dim(1, 20), m.dim(1, 12), m.zero_point()
        x, w, g = m.s8(batch * in_n), m.s8(out_n * in_n), m.grad(batch * out_n, size=m.choice([1, 2]))
        xs = np.frombuffer(x, np.int8).astype(np.int64).reshape(batch, in_n) - in_zp
        ws = np.frombuffer(w, np.int8).astype(np.int64).reshape(out_n, in_n)
        gs = np.frombuffer(g, f"i{memoryview(g).itemsize}").astype(np.int64).reshape(batch, out_n)
        pairing = sum(int(gs[b, o]) * sum(int(xs[b, i]) * int(ws[o, i]) for i in range(in_n))
                      for b in range(batch) for o in range(out_n))
        gw, gx = array("i", bytes(4 * out_n * in_n)), array("i", bytes(4 * batch * in_n))
        assert reference.fc_weight_grad(gw, x, g, array("i", [batch, in_n, out_n, in_zp])) == 0
        assert reference.fc_input_grad(gx, w, g, array("i", [batch, in_n, out_n])) == 0
        assert pairing == int((ws.ravel() * np.array(gw)).sum())
        assert pairing == int((xs.ravel() * np.array(gx)).sum())
