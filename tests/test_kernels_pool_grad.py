"""Parity of the pooling gradients (qnn.avg_pool_input_grad, max_pool_input_grad,
global_avg_pool_input_grad) with the NumPy reference on the virtual board, and the reference
against the definition written as loops."""

from array import array

import numpy as np
import pytest

from kernel_cases import CaseMaker
from mcutrain import reference
from parity import assert_parity, run_reference

WINDOW_OPS = ("avg_pool_input_grad", "max_pool_input_grad")


def geometry(m):
    """The pools' first 12 params; overlapping windows (k > stride) are common."""
    batch, c = m.dim(1, 2), m.dim(1, 5)
    in_h, k_h, stride_h, pad_top, out_h = m.window_axis(pool=True)
    in_w, k_w, stride_w, pad_left, out_w = m.window_axis(pool=True)
    return [batch, in_h, in_w, c, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top, pad_left]


def pool_case(m, op):
    if op == "global_avg_pool_input_grad":
        batch, h, w, c = m.dim(1, 3), m.dim(1, 7), m.dim(1, 7), m.dim(1, 9)
        return (op, [m.s32(batch * h * w * c), m.grad(batch * c), m.params(batch, h, w, c)])
    p = geometry(m)
    batch, in_h, in_w, c, out_h, out_w = p[:6]
    # gx of any gradient size: an int8 error routed by max pooling is the FQT chain's int8 path.
    gx, g = m.grad(batch * in_h * in_w * c), m.grad(batch * out_h * out_w * c)
    if op == "avg_pool_input_grad":
        return (op, [gx, g, m.params(*p)])
    # Few distinct values: ties, where the first maximum must win.
    x = m.s8(batch * in_h * in_w * c, saturate=m.rng.random() < 0.5)
    return (op, [gx, x, g, m.params(*p)])


def gx_type(gx):
    return np.dtype(f"i{memoryview(gx).itemsize}")


def saturates(case):
    gx = run_reference(*case)[1][0]
    info, after = np.iinfo(gx_type(gx)), np.frombuffer(gx, gx_type(gx))
    return bool(np.any((after == info.min) | (after == info.max)))


@pytest.mark.parametrize("op", WINDOW_OPS)
def test_window_parity(board, tmp_path, op):
    m = CaseMaker(seed=501 + WINDOW_OPS.index(op))
    cases = [pool_case(m, op) for _ in range(300)]
    p = [list(args[-1]) for _, args in cases]
    assert sum(v[6] > v[8] and v[7] > v[9] for v in p) >= 50, "overlapping windows"
    assert sum(v[8] == 2 for v in p) >= 30, "stride 2"
    assert sum(v[10] > 0 and v[11] > 0 for v in p) >= 30, "padding"
    assert sum(v[6] == v[7] == 1 for v in p) >= 10, "1x1"
    assert sum(v[1] % 2 == 1 and v[2] % 2 == 1 and v[1] > 1 for v in p) >= 30, "odd sizes"
    # Saturation is rarer for avg, whose shares are g / valid_count.
    assert sum(saturates(case) for case in cases) >= 10, "saturation"
    assert sum(memoryview(args[0]).itemsize == 1 for _, args in cases) >= 50, "int8 gx"
    assert_parity(board, tmp_path, cases)


def test_global_parity(board, tmp_path):
    m = CaseMaker(seed=503)
    cases = [pool_case(m, "global_avg_pool_input_grad") for _ in range(300)]
    assert sum(list(args[-1])[1:3] == [1, 1] for _, args in cases) >= 3, "1x1"
    assert_parity(board, tmp_path, cases)


def test_large_strides_and_paddings_are_safe(board, tmp_path):
    """Kernels, strides and paddings near 2^31 that still leave an input in every window."""
    m = CaseMaker(seed=504)
    cases = []
    for op in WINDOW_OPS:
        for _ in range(10):
            op_, args = pool_case(m, op)
            p = list(args[-1])
            # one output per row, in a window that reaches from far above the image into it
            p[4], p[6], p[8], p[10] = 1, m.choice([1 << 30, (1 << 31) - 1]), m.choice([1, (1 << 31) - 1]), (1 << 30) - 1
            args[-2] = m.grad(p[0] * p[4] * p[5] * p[3])
            cases.append((op_, args[:-1] + [m.params(*p)]))
    assert all(run_reference(*case)[0] == "r0" for case in cases)
    assert_parity(board, tmp_path, cases)


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=505)
    ops = WINDOW_OPS + ("global_avg_pool_input_grad",)
    cases = [m.break_case(pool_case(m, op)) for op in ops for _ in range(80)]
    cases += [v for op in ops for v in m.with_each_param(pool_case(m, op))]
    for op in ops:
        for typecode in ("q", "d"):
            op_, args = pool_case(m, op)
            for at in (0, -2) if op in WINDOW_OPS else (-2,):  # gx (of the window pools), g
                bad = list(args)
                bad[at] = array(typecode, [0] * len(args[at]))
                assert run_reference(op_, bad)[0] == f"e{op}: bad parameters"
                cases.append((op_, bad))
    # A window wholly in padding, below and right of the image, or above and left of it.
    for op in WINDOW_OPS:
        for i in (4, 5, 10, 11):
            op_, args = pool_case(m, op)
            p = list(args[-1])
            if i < 10:  # one more output than the last that starts inside the image
                p[i] = (p[i - 3] - 1 + p[i + 6]) // p[i + 4] + 2
            else:  # padding as large as the kernel
                p[i] = p[i - 4]
            cases.append((op_, args[:-1] + [m.params(*p)]))
            assert run_reference(*cases[-1])[0] == f"e{op}: bad parameters"
    assert_parity(board, tmp_path, cases)


def loops(op, x, g, p, gx_dtype):
    """The definition in docs/kernels.md as loops: gx zeroed, then each output gradient goes to
    its window's inputs (avg: rhaz(g / valid_count) to each; max: all of it to the first maximum),
    the sums exact, saturated to gx's type at the end."""
    batch, in_h, in_w, c, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top, pad_left = p
    gx = np.zeros((batch, in_h, in_w, c), object)
    for b, oy, ox, ch in np.ndindex(batch, out_h, out_w, c):
        inside = [(iy, ix) for iy in range(oy * stride_h - pad_top, oy * stride_h - pad_top + k_h)
                  for ix in range(ox * stride_w - pad_left, ox * stride_w - pad_left + k_w)
                  if 0 <= iy < in_h and 0 <= ix < in_w]
        v = int(g[b, oy, ox, ch])
        if op == "avg_pool_input_grad":
            share = (2 * abs(v) + len(inside)) // (2 * len(inside)) * (1 if v >= 0 else -1)
            for iy, ix in inside:
                gx[b, iy, ix, ch] += share
        else:
            iy, ix = max(inside, key=lambda pos: (x[b, pos[0], pos[1], ch], -pos[0], -pos[1]))
            gx[b, iy, ix, ch] += v
    info = np.iinfo(gx_dtype)
    return np.clip(gx, info.min, info.max).astype(np.int64)


@pytest.mark.parametrize("op", WINDOW_OPS)
def test_reference_follows_the_definition(op):
    m = CaseMaker(seed=506 + WINDOW_OPS.index(op))
    for _ in range(30):
        op_, args = pool_case(m, op)
        p = list(args[-1])
        batch, in_h, in_w, c, out_h, out_w = p[:6]
        g = args[-2]
        gs = np.frombuffer(g, f"i{memoryview(g).itemsize}").reshape(batch, out_h, out_w, c)
        x = None if op == "avg_pool_input_grad" else np.frombuffer(args[1], np.int8).reshape(batch, in_h, in_w, c)
        result, buffers = run_reference(op, args)
        assert result == "r0"
        dtype = gx_type(args[0])
        assert (np.frombuffer(buffers[0], dtype) == loops(op, x, gs, p, dtype).ravel()).all()


def test_global_reference_follows_the_definition():
    gx = array("i", bytes(4 * 2 * 2 * 3 * 2))
    g = array("i", [3, -3, 6, (1 << 31) - 1])  # batch 2, c 2; h * w = 6: halves round away from zero
    reference.global_avg_pool_input_grad(gx, g, array("i", [2, 2, 3, 2]))
    assert list(gx) == [1, -1] * 6 + [1, 357913941] * 6


def test_int8_error_through_max_windows_that_do_not_overlap_needs_no_int32():
    """What FQT's max-pool link relies on (mcutrain.fqt.PoolLink): with windows that do not
    overlap and an int8 error in [-127, 127], the int8 gx is the int32 one, which quantize_s8 would
    leave as it is (shift 0, with or without stochastic rounding)."""
    m = CaseMaker(seed=507)
    checked = 0
    while checked < 100:
        _, (_, x, _, params) = pool_case(m, "max_pool_input_grad")
        p = list(params)
        if p[8] < p[6] or p[9] < p[7]:
            continue
        batch, in_h, in_w, c, out_h, out_w = p[:6]
        g = array("b", m.rng.integers(-127, 127, batch * out_h * out_w * c, endpoint=True).tolist())
        wide, narrow = array("i", [7] * (batch * in_h * in_w * c)), bytearray(batch * in_h * in_w * c)
        assert reference.max_pool_input_grad(wide, x, g, params) == 0
        assert reference.max_pool_input_grad(narrow, x, g, params) == 0
        assert list(wide) == list(array("b", narrow))
        for stochastic in (0, 1):
            quantized = bytearray(len(narrow))
            shift = reference.quantize_s8(quantized, wide, array("i", [len(wide), stochastic, 12345]))
            assert (shift, quantized) == (0, narrow)
        checked += 1
