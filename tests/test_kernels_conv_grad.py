"""Parity of the convolution gradients (qnn.conv2d_weight_grad, depthwise_weight_grad,
conv2d_input_grad, depthwise_input_grad) with the NumPy reference on the virtual board, and the
reference against the definition (the adjoints of the convolution)."""

from array import array

import numpy as np
import pytest

from kernel_cases import CaseMaker
from mcutrain import reference
from parity import assert_parity, run_reference

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
WEIGHT_OPS = ("conv2d_weight_grad", "depthwise_weight_grad")
INPUT_OPS = ("conv2d_input_grad", "depthwise_input_grad")


def geometry(m, depthwise):
    """conv2d's first 13 params: a quarter 1x1 stride 1 unpadded (pointwise), the rest from
    window_axis (strides, padding, kernels larger than the input, implicit bottom padding)."""
    batch, in_c = m.dim(1, 2), m.dim(1, 6)
    out_c = in_c if depthwise else m.dim(1, 6)
    if m.rng.random() < 0.25:
        in_h, in_w = m.dim(1, 8), m.dim(1, 8)
        return [batch, in_h, in_w, in_c, in_h, in_w, out_c, 1, 1, 1, 1, 0, 0]
    in_h, k_h, stride_h, pad_top, out_h = m.window_axis()
    in_w, k_w, stride_w, pad_left, out_w = m.window_axis()
    return [batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, pad_top, pad_left]


def conv_case(m, op):
    depthwise = op.startswith("depthwise")
    p = geometry(m, depthwise)
    batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w = p[:9]
    weights = (1 if depthwise else out_c) * k_h * k_w * in_c
    g = m.grad(batch * out_h * out_w * out_c)
    if op in WEIGHT_OPS and m.rng.random() < 0.4:
        # Output channels [first, first + channels) (conv2d), and sometimes rows [first_row,
        # first_row + rows) of the error, which g then holds alone.
        first = 0 if depthwise else m.dim(0, out_c - 1)
        channels = out_c if depthwise else m.dim(1, out_c - first)
        extra = [first, channels]
        if depthwise or m.rng.random() < 0.5:
            first_row = m.dim(0, out_h - 1)
            rows = m.choice([1, out_h - first_row, m.dim(1, out_h - first_row)])
            extra += [first_row, rows]
            g = m.grad(batch * rows * out_w * out_c)
        return (op, [m.accumulator((1 if depthwise else channels) * k_h * k_w * in_c),
                     m.s8(batch * in_h * in_w * in_c), g, m.params(*p, m.zero_point(), *extra)])
    if op in WEIGHT_OPS:
        return (op, [m.accumulator(weights), m.s8(batch * in_h * in_w * in_c), g, m.params(*p, m.zero_point())])
    return (op, [m.s32(batch * in_h * in_w * in_c), m.s8(weights), g, m.params(*p)])


def saturates(case):
    before = np.frombuffer(case[1][0], np.int32)
    after = np.frombuffer(run_reference(*case)[1][0], np.int32)
    return bool(np.any(((after == INT32_MIN) | (after == INT32_MAX)) & (after != before)))


def assert_edges_covered(cases):
    p = [list(args[-1]) for _, args in cases]
    assert sum(v[7:13] == [1, 1, 1, 1, 0, 0] for v in p) >= 50, "pointwise"
    assert sum(v[9] == 2 for v in p) >= 30, "stride 2"
    assert sum(v[11] > 0 and v[12] > 0 for v in p) >= 30, "padding"
    assert sum(v[11] >= v[7] for v in p) >= 5, "windows wholly in padding"
    assert sum(v[4] > v[1] for v in p) >= 10, "implicit bottom padding"
    assert sum(v[7] > v[1] for v in p) >= 10, "kernel taller than the input"
    assert sum(v[1] % 2 == 1 and v[2] % 2 == 1 and v[1] > 1 for v in p) >= 30, "odd sizes"
    sizes = [memoryview(args[2]).itemsize for _, args in cases]
    assert all(sizes.count(size) >= 60 for size in (1, 2, 4)), "every gradient type"
    assert sum(saturates(case) for case in cases) >= 20, "saturation"


@pytest.mark.parametrize("op", WEIGHT_OPS + INPUT_OPS)
def test_parity(board, tmp_path, op):
    m = CaseMaker(seed=401 + (WEIGHT_OPS + INPUT_OPS).index(op))
    cases = [conv_case(m, op) for _ in range(300)]
    assert_edges_covered(cases)
    if op in WEIGHT_OPS:
        zero_points = [args[-1][13] for _, args in cases]
        assert zero_points.count(-128) >= 20 and zero_points.count(127) >= 20, "input zero points"
    assert_parity(board, tmp_path, cases)


def depthwise_taps_case(m):
    """depthwise_input_grad's register path (conv_grad.c, tap_input_grad): stride 1, paddings
    within the kernel, a dense int8 error, 4 to 9 or 16 channels (the last group of four makes
    some channels again), windows at every edge, output sizes that leave input rows or columns
    outside every window, and windows of 1 to 25 taps, or more (which take the scatter)."""
    batch, c = m.dim(1, 2), m.choice([m.dim(4, 9), 16])
    axes = []
    for _ in range(2):
        size, k = m.dim(1, 9), m.choice([1, 2, 3, 3, 5, 6])
        pad = m.dim(0, k - 1)
        natural = max(1, size + 2 * pad - k + 1)
        axes.append((size, k, pad, m.choice([natural, natural, m.dim(1, natural + 2)])))
    (in_h, k_h, pad_top, out_h), (in_w, k_w, pad_left, out_w) = axes
    p = [batch, in_h, in_w, c, out_h, out_w, c, k_h, k_w, 1, 1, pad_top, pad_left]
    g = bytearray(m.rng.integers(-128, 128, batch * out_h * out_w * c, dtype=np.int8).tobytes())
    return ("depthwise_input_grad", [m.s32(batch * in_h * in_w * c), m.s8(k_h * k_w * c), g, m.params(*p)])


def test_depthwise_register_path(board, tmp_path):
    m = CaseMaker(seed=409)
    cases = [depthwise_taps_case(m) for _ in range(200)]
    p = [list(args[-1]) for _, args in cases]
    assert sum(v[7] * v[8] <= 25 and v[3] % 4 for v in p) >= 40, "tables, channels made again"
    assert sum(v[7] * v[8] > 25 for v in p) >= 5, "windows past the table"
    assert sum(v[4] < v[1] - v[7] + 1 + 2 * v[11] for v in p) >= 10, "rows outside every window"
    assert_parity(board, tmp_path, cases)


def test_large_strides_and_paddings_are_safe(board, tmp_path):
    """Strides and paddings near 2^31 put window origins far outside int32: such taps read
    nothing, and nothing overflows."""
    m = CaseMaker(seed=405)
    cases = m.with_huge_windows(conv_case, WEIGHT_OPS + INPUT_OPS)
    assert all(run_reference(*case)[0] == "r0" for case in cases)
    assert_parity(board, tmp_path, cases)


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=406)
    ops = WEIGHT_OPS + INPUT_OPS
    cases = [m.break_case(conv_case(m, op)) for op in ops for _ in range(60)]
    cases += [v for op in ops for v in m.with_each_param(conv_case(m, op))]
    for op in ops:
        for typecode in ("q", "d"):
            op_, args = conv_case(m, op)
            args[2] = array(typecode, [0] * len(args[2]))
            assert run_reference(op_, args)[0] == f"e{op}: bad parameters"
            cases.append((op_, args))
        # depthwise needs out_c == in_c
        op_, args = conv_case(m, op)
        p = list(args[-1])
        p[6] += 1
        cases.append((op_, args[:-1] + [m.params(*p)]))
    assert_parity(board, tmp_path, cases)


def forward_accumulators(x, w, p, depthwise):
    """acc[b, oy, ox, o] of the convolution, by loops over the definition in docs/kernels.md."""
    batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, pad_top, pad_left = p
    acc = np.zeros((batch, out_h, out_w, out_c), np.int64)
    for b, oy, ox, o, ky, kx in np.ndindex(batch, out_h, out_w, out_c, k_h, k_w):
        iy, ix = oy * stride_h - pad_top + ky, ox * stride_w - pad_left + kx
        if 0 <= iy < in_h and 0 <= ix < in_w:
            if depthwise:
                acc[b, oy, ox, o] += x[b, iy, ix, o] * w[ky, kx, o]
            else:
                acc[b, oy, ox, o] += x[b, iy, ix] @ w[o, ky, kx]
    return acc


@pytest.mark.parametrize("depthwise", [False, True])
def test_reference_is_the_adjoint_of_the_convolution(depthwise):
    """<conv(x - in_zp, w), g> = <w, weight_grad(x, g)> = <x - in_zp, input_grad(w, g)>, with
    int8 / int16 gradients (nothing saturates)."""
    m = CaseMaker(seed=407 + depthwise)
    prefix = "depthwise" if depthwise else "conv2d"
    for _ in range(25):
        p = geometry(m, depthwise)
        batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w = p[:9]
        in_zp = m.zero_point()
        x, w = m.s8(batch * in_h * in_w * in_c), m.s8((1 if depthwise else out_c) * k_h * k_w * in_c)
        g = m.grad(batch * out_h * out_w * out_c, size=m.choice([1, 2]))
        xs = np.frombuffer(x, np.int8).astype(np.int64).reshape(batch, in_h, in_w, in_c) - in_zp
        ws = np.frombuffer(w, np.int8).astype(np.int64)
        gs = np.frombuffer(g, f"i{memoryview(g).itemsize}").astype(np.int64)
        shape = (k_h, k_w, in_c) if depthwise else (out_c, k_h, k_w, in_c)
        pairing = int((forward_accumulators(xs, ws.reshape(shape), p, depthwise).ravel() * gs).sum())
        gw, gx = array("i", bytes(4 * len(ws))), array("i", bytes(4 * xs.size))
        assert getattr(reference, prefix + "_weight_grad")(gw, x, g, array("i", p + [in_zp])) == 0
        assert getattr(reference, prefix + "_input_grad")(gx, w, g, array("i", p)) == 0
        assert pairing == int((ws * np.array(gw)).sum())
        assert pairing == int((xs.ravel() * np.array(gx)).sum())


@pytest.mark.parametrize("depthwise", [False, True])
def test_blocks_of_rows_add_up_to_the_whole_weight_gradient(depthwise):
    """A layer's error handed in a few output rows at a time, each block accumulating into gw,
    gives the gradient of the whole error (int8 errors: nothing saturates)."""
    m = CaseMaker(seed=409 + depthwise)
    op = getattr(reference, ("depthwise" if depthwise else "conv2d") + "_weight_grad")
    for _ in range(25):
        p = geometry(m, depthwise)
        batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w = p[:9]
        p.append(m.zero_point())
        x = m.s8(batch * in_h * in_w * in_c)
        g = np.frombuffer(m.grad(batch * out_h * out_w * out_c, size=1), np.int8).reshape(batch, out_h, out_w, out_c)
        size = (1 if depthwise else out_c) * k_h * k_w * in_c
        whole, blocks = array("i", bytes(4 * size)), array("i", bytes(4 * size))
        op(whole, x, bytearray(g.tobytes()), array("i", p))
        first_row = 0
        while first_row < out_h:
            rows = m.dim(1, out_h - first_row)
            block = bytearray(g[:, first_row:first_row + rows].tobytes())
            op(blocks, x, block, array("i", p + [0, out_c, first_row, rows]))
            first_row += rows
        assert list(blocks) == list(whole)
