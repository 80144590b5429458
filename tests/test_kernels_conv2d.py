"""Parity of qnn.conv2d and qnn.depthwise_conv2d with the NumPy reference on the virtual board."""

from array import array

from kernel_cases import CaseMaker
from parity import assert_parity, run_reference


def conv_case(m, op):
    """A conv2d or depthwise_conv2d case. A third are 1x1, stride 1, unpadded: most of those
    pointwise (conv2d's fast path), the others with an output smaller or larger than the input,
    which must not take it."""
    batch, in_c = m.dim(1, 2), m.dim(1, 8)
    out_c = in_c if op == "depthwise_conv2d" else m.dim(1, 8)
    if m.rng.random() < 0.33:
        in_h, in_w = m.dim(1, 9), m.dim(1, 9)
        out_h, out_w = in_h, in_w
        if m.rng.random() < 0.3:
            out_h, out_w = m.choice([(m.dim(1, in_h + 2), in_w), (in_h, m.dim(1, in_w + 2))])
        (k_h, stride_h, pad_top), (k_w, stride_w, pad_left) = (1, 1, 0), (1, 1, 0)
    else:
        in_h, k_h, stride_h, pad_top, out_h = m.window_axis()
        in_w, k_w, stride_w, pad_left, out_w = m.window_axis()
    in_zp, out_zp = m.zero_point(), m.zero_point()
    act_min, act_max = m.act_range()
    filters = 1 if op == "depthwise_conv2d" else out_c
    return (op, [
        m.s8(batch * out_h * out_w * out_c), m.s8(batch * in_h * in_w * in_c), m.s8(filters * k_h * k_w * in_c),
        m.bias(out_c), *m.requant(out_c),
        m.params(batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, pad_top, pad_left,
                 in_zp, out_zp, act_min, act_max)])


def assert_edges_covered(cases):
    """The seeded cases must keep hitting the edges, whatever CaseMaker's draws become."""
    p = [list(args[-1]) for _, args in cases]
    one_by_one = [v for v in p if v[7] == v[8] == v[9] == v[10] == 1 and v[11] == v[12] == 0]
    assert sum((v[4], v[5]) == (v[1], v[2]) for v in one_by_one) >= 60, "pointwise"
    assert sum((v[4], v[5]) != (v[1], v[2]) for v in one_by_one) >= 20, "1x1 but not pointwise"
    assert sum(v[9] == 2 for v in p) >= 30, "stride 2"
    assert sum(v[11] > 0 and v[12] > 0 for v in p) >= 30, "padding"
    assert sum(v[11] >= v[7] for v in p) >= 5, "windows wholly in padding"
    assert sum(v[4] > v[1] for v in p) >= 10, "implicit bottom padding"
    assert sum(v[13] == -128 for v in p) >= 10 and sum(v[13] == 127 for v in p) >= 10, "input zero points"
    assert sum(v[7] > v[1] for v in p) >= 10, "kernel taller than the input"


def test_conv2d_parity(board, tmp_path):
    m = CaseMaker(seed=11)
    cases = [conv_case(m, "conv2d") for _ in range(400)]
    assert_edges_covered(cases)
    assert_parity(board, tmp_path, cases)


def test_a_scratch_changes_no_output(board, tmp_path):
    m = CaseMaker(seed=13)
    assert_parity(board, tmp_path, [m.with_scratch(conv_case(m, "conv2d")) for _ in range(100)])


def test_depthwise_conv2d_parity(board, tmp_path):
    m = CaseMaker(seed=12)
    cases = [conv_case(m, "depthwise_conv2d") for _ in range(400)]
    assert_edges_covered(cases)
    assert_parity(board, tmp_path, cases)


def test_sums_at_the_float32_limit_are_exact(board, tmp_path):
    """The reference sums in float32 while max|x - in_zp| * sum|w| of a filter stays below 2^24
    (taps * 255 * 127: 518 taps), else float64. Each case makes every product the largest and a
    bias cancels all but 5 of the sum, so one unit lost to rounding changes the output."""
    cases = []
    for taps in (517, 518, 519, 520):
        total = taps * 255 * 127
        for op, kernel in (("conv2d", (1, 1)), ("depthwise_conv2d", (taps, 1))):
            in_c = taps if op == "conv2d" else 2
            k_h, k_w = kernel
            out_c = 2
            filters = 1 if op == "depthwise_conv2d" else out_c
            x = bytearray(b"\x7f" * (k_h * k_w * in_c))
            w = bytearray(b"\x7f" * (filters * k_h * k_w * in_c))
            cases.append((op, [bytearray(out_c), x, w, array("i", [5 - total] * out_c),
                               array("i", [(1 << 31) - 1] * out_c), array("i", [0] * out_c),
                               array("i", (1, k_h, k_w, in_c, 1, 1, out_c, k_h, k_w, 1, 1, 0, 0, -128, 0, -128, 127))]))
    assert all(run_reference(*case)[1][0] == bytes([5, 5]) for case in cases)
    assert_parity(board, tmp_path, cases)


def test_large_strides_and_paddings_are_safe(board, tmp_path):
    """Strides and paddings near 2^30 put window origins far outside int32; the windows are
    just empty (the output is the requantized bias)."""
    m = CaseMaker(seed=13)
    cases = m.with_huge_windows(conv_case, ("conv2d", "depthwise_conv2d"))
    assert all(run_reference(*case)[0] == "r0" for case in cases)
    assert_parity(board, tmp_path, cases)


def test_shape_products_cannot_wrap(board, tmp_path):
    """batch * in_h * in_w * in_c = 2^64, 0 modulo 2^64: an empty input must not match it."""
    m = CaseMaker(seed=16)
    p = m.params(1 << 16, 1 << 16, 1 << 16, 1 << 16, 1, 1, 1 << 16, 1, 1, 1, 1, 0, 0, 0, 0, -128, 127)
    cases = [(op, [bytearray(1), bytearray(), bytearray(1), m.s32(1), *m.requant(1), p])
             for op in ("conv2d", "depthwise_conv2d")]
    assert all(run_reference(*case)[0].endswith("input buffer length does not match the shape") for case in cases)
    assert_parity(board, tmp_path, cases)


def test_each_parameter_out_of_range(board, tmp_path):
    m = CaseMaker(seed=15)
    cases = [v for op in ("conv2d", "depthwise_conv2d") for _ in range(2) for v in m.with_each_param(conv_case(m, op))]
    assert_parity(board, tmp_path, cases)


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=14)
    cases = [m.break_case(conv_case(m, op)) for op in ("conv2d", "depthwise_conv2d") for _ in range(200)]
    assert sum(run_reference(*case)[0].startswith("e") for case in cases) > len(cases) // 2
    assert_parity(board, tmp_path, cases)
