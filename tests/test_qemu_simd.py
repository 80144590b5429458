"""The ARM paths of conv2d, depthwise_conv2d and fully_connected (native_modules/qnn/mac.c):
SMLAD and SMLABB/SMLATT on the Cortex-M4 (armv7emsp), the Thumb-1 assembly loops on the Cortex-M0
(armv6m), over int8 weights and over weights widened into a scratch (M0 and M4), and the Cortex-M0's
requantization from 32-bit products, over a pass's table and from the multiplier's halves alone for
sums in (-2^16, 2^16), and for add's rescaled inputs;
and those of the gradient kernels' fast paths (native_modules/qnn/scatter.c, grad_dot.c,
and the depthwise weight gradient's sums through mac.c), and the Cortex-M0's loop of sgd_update
and zo_update for the trainers' steps (update.c).
On the emulated boards they must equal the NumPy reference byte for byte: odd sizes, channel
counts that leave channels over from the groups of four, runs that leave taps over from the
words, int8 buffers at every alignment, zero points at -128 and 127, accumulators that wrap past
int32, and requantization at the ends of int32 and of the multipliers and shifts, in the kernels'
own output loops too."""

import zlib
from array import array

import numpy as np
import pytest

from kernel_cases import CaseMaker
from mcutrain_host import kernel_calls
from mcutrain_host.board import deploy, qemu
from parity import run_reference
from test_kernels_add import ADD_SCRATCH, tables_case, tables_edge_cases, unclamped_add_cases
from test_kernels_conv2d import conv_case
import test_kernels_conv_grad
import test_kernels_fc_grad
from test_kernels_fully_connected import fc_case
from test_kernels_requantize import requantize_case
from test_kernels_updates import trainer_sgd_case
from test_kernels_zo_update import trainer_zo_case
from test_qemu_boards import pytestmark  # noqa: F401  (the same skip reasons)
from test_trainer import TINY

# Each int8 buffer (bytearray) is passed as a view starting (case + position) % 4 bytes into a
# larger buffer, so that input, weights and output meet the kernels at every alignment. The board
# prints the return value and the output's length and CRC-32: qemu-m0's UART stops for good when
# the host falls behind a long output, and the gradients' int32 outputs are long.
RUNNER = kernel_calls.READER + r'''
import qnn
crc = bytearray(4)
with open("/rom/cases.bin", "rb") as f:
    for case, (op, args) in enumerate(read_calls(f)):
        for i, a in enumerate(args):
            if isinstance(a, bytearray):
                offset = (case + i) % 4
                b = bytearray(offset + len(a))
                b[offset:] = a
                args[i] = memoryview(b)[offset:]
        result = getattr(qnn, op)(*args)
        crc[:] = bytes(4)
        qnn.crc32(crc, args[0])
        print(result, len(bytes(args[0])), crc.hex())
'''


def wrapping_case(op, bias):
    """Every product (127 - (-128)) * 127 or its negation, on a bias at an end of int32: the sums
    leave int32 and must wrap as the reference's int32 arithmetic does."""
    sign = 1 if bias > 0 else -1
    n_in, n_out = 37, 6
    requant = [array("i", [1 << 30] * n_out), array("i", [-20] * n_out)]
    weights = bytearray((127 * sign) & 0xFF for _ in range(n_out * n_in * (9 if op == "conv2d" else 1)))
    if op == "fully_connected":
        return (op, [bytearray(n_out), bytearray([127] * n_in), weights, array("i", [bias] * n_out), *requant,
                     array("i", [1, n_in, n_out, -128, 0, -128, 127])])
    return (op, [bytearray(4 * n_out), bytearray([127] * 4 * n_in), weights, array("i", [bias] * n_out), *requant,
                 array("i", [1, 2, 2, n_in, 2, 2, n_out, 3, 3, 1, 1, 1, 1, -128, 0, -128, 127])])


def unclamped_requantize_case(rng, n=400):
    """Accumulators across int32 (their 16-bit halves, which the Cortex-M0 multiplies, in every
    combination of signs) and multipliers across [0, 2^31), each with the smallest right shift
    that keeps the result inside int8: no clamp hides a wrong low bit of the high product."""
    acc = [int(v) for v in rng.integers(-(1 << 31), 1 << 31, n)]
    acc[:4] = [-(1 << 31), (1 << 31) - 1, -0x10000, 0xFFFF]
    multiplier = [int(m) >> int(k) for m, k in zip(rng.integers(0, 1 << 31, n), rng.integers(0, 31, n))]
    shifts = []
    for a, m in zip(acc, multiplier):
        high = abs(a * m) >> 31
        shifts.append(-max(0, high.bit_length() - 6))
    return ("requantize", [bytearray(n), array("i", acc), array("i", multiplier), array("i", shifts),
                           array("i", [n, n, 0, -128, 127])])


def rounding_edge_case(n=192):
    """fully_connected's outputs on sums near both ends of int32 (zero weights: each sum is its
    bias), multipliers near 2^31 and every right shift from 0 to 31: where the rounding add of a
    result near INT32_MAX overflows, and the shifts the Cortex-M0's output loop hands to
    qnn_requantize. The large shifts bring even these sums inside int8, past no clamp."""
    bias, multiplier, shift = [], [], []
    for c in range(n):
        e = c % 32
        near = (c * 7919) % (1 << max(e - 1, 0)) if e else c
        bias.append((1 << 31) - 1 - near if c // 32 % 2 == 0 else -(1 << 31) + near)
        multiplier.append((1 << 31) - 1 - (c // 64) * 12345)
        shift.append(-e)
    return ("fully_connected", [bytearray(n), bytearray([127]), bytearray(n), array("i", bias), array("i", multiplier),
                                array("i", shift), array("i", [1, 1, n, -128, 0, -128, 127])])


def saturated_output_case(out_zp, n=64):
    """fully_connected's outputs whose requantized sum reaches the ends of int32 (left shifts of
    large sums, zero weights: each sum is its bias), on a zero point at an end of int8 and the
    whole int8 range: adding the zero point must not wrap before the clamp."""
    bias = [((1 << 31) - 1 - c) if c % 2 == 0 else -(1 << 31) + c for c in range(n)]
    shift = [c % 8 for c in range(n)]
    return ("fully_connected", [bytearray(n), bytearray([127]), bytearray(n), array("i", bias),
                                array("i", [(1 << 31) - 1] * n), array("i", shift),
                                array("i", [1, 1, n, -128, out_zp, -128, 127])])


def small_sum_case(rng, n=400):
    """fully_connected's outputs on sums inside and just outside (-2^16, 2^16), which the
    Cortex-M0's output loop multiplies by the multiplier's halves alone (zero weights: each sum is
    its bias; its low product taken unsigned, of a negative sum's magnitude), with multipliers
    across [0, 2^31) and the smallest right shift (at least 1) that keeps the result inside int8,
    so no clamp hides a wrong low bit."""
    bias = [int(v) for v in rng.integers(-(1 << 16) - 4, (1 << 16) + 4, n)]
    bias[:14] = [-(1 << 15), (1 << 15) - 1, -(1 << 15) - 1, 1 << 15, -1, 1, -2, 2, (1 << 16) - 1, 1 << 16,
                 (1 << 16) + 1, -(1 << 16) + 1, -(1 << 16), -(1 << 16) - 1]
    multiplier = [int(m) >> int(k) for m, k in zip(rng.integers(0, 1 << 31, n), rng.integers(0, 16, n))]
    multiplier[:14] = [(1 << 31) - 1] * 14
    shift = [-max(1, (abs(a * m) >> 31).bit_length() - 6) for a, m in zip(bias, multiplier)]
    return ("fully_connected", [bytearray(n), bytearray([127]), bytearray(n), array("i", bias), array("i", multiplier),
                                array("i", shift), array("i", [1, 1, n, -128, 0, -128, 127])])


def table_case(rng, lo=-128):
    """fully_connected with a scratch, 32 channels: the Cortex-M0's output loop over a pass's table
    (mac.c's qnn_outputs_table_m0), on sums inside and just outside (-2^16, 2^16) and across int32,
    each row's sum its channel's bias plus (x - in_zp) * w for w in {0, 1, -1} or any int8, with
    multipliers across [0, 2^31) and the smallest right shift (at least 1) that keeps every row's
    result inside int8, so no clamp hides a wrong low bit; lo 0 adds a ReLU's lower bound."""
    batch, n, in_zp = 12, 32, int(rng.integers(-128, 128))
    edges = [0, -1, 1, -2, 2, (1 << 15) - 1, 1 << 15, -(1 << 15), -(1 << 15) - 1, (1 << 16) - 1, 1 << 16,
             -(1 << 16) + 1, -(1 << 16), -(1 << 16) - 1, (1 << 16) + 1]
    bias = [int(rng.choice(edges)) + int(rng.integers(-300, 301)) for _ in range(n)]
    bias[::5] = [int(v) for v in rng.integers(-(1 << 30), 1 << 30, len(bias[::5]))]
    weights = [int(rng.choice([0, 1, -1, int(rng.integers(-128, 128))])) for _ in range(n)]
    x = [int(v) for v in rng.integers(-128, 128, batch)]
    multiplier = [int(m) >> int(k) for m, k in zip(rng.integers(0, 1 << 31, n), rng.integers(0, 16, n))]
    multiplier[:3] = [(1 << 31) - 1] * 3
    shift = [-max(1, max((abs((b + (v - in_zp) * w) * m) >> 31).bit_length() for v in x) - 6)
             for b, w, m in zip(bias, weights, multiplier)]
    s8 = lambda values: bytearray(np.array(values, np.int8).tobytes())  # noqa: E731
    return ("fully_connected", [bytearray(batch * n), s8(x), s8(weights), array("i", bias),
                                array("i", multiplier), array("i", shift),
                                array("i", [batch, 1, n, in_zp, 0, lo, 127]), bytearray(4 * n + 4)])


def rounding_tie_case(rng):
    """fully_connected with a scratch, 32 channels of zero weights (each sum its bias a = +-n,
    |a| < 2^16), whose product n * b lies on or within a few units of a rounding boundary of the
    requantization: a multiple of 2^(30 + e) less 2^30, e the right shift (on it: n a power of two
    times a divisor of k * 2^e - 1). There the Cortex-M0's output loop over a pass's table
    (qnn_outputs_table_m0) must round its floors exactly as the reference, a negative sum's ceil and
    its 2^30 - 1 included."""
    bias, multiplier, shift = [], [], []
    while len(bias) < 32:
        e, k = int(rng.integers(1, 7)), int(rng.integers(1, 60))
        if rng.random() < 0.5:
            odd = k * (1 << e) - 1
            divisors = [d for d in range(1, min(odd, 1 << 16) + 1) if odd % d == 0]
            n = int(rng.choice(divisors)) << int(rng.integers(0, 16))
            b = ((k << (30 + e)) - (1 << 30)) // n if n < 1 << 16 else -1
        else:
            n = int(rng.integers(1, 1 << 16))
            b = ((k << (30 + e)) - (1 << 30)) // n + int(rng.integers(-2, 3))
        if 0 <= b < 1 << 31:
            bias.append(n if rng.random() < 0.5 else -n)
            multiplier.append(b)
            shift.append(-e)
    return ("fully_connected", [bytearray(32), bytearray(1), bytearray(32), array("i", bias), array("i", multiplier),
                                array("i", shift), array("i", [1, 1, 32, 0, 0, -128, 127]), bytearray(4 * 32 + 4)])


def wide_stride_case(m):
    """A stride of 40,000: window positions past 2^15, which the Cortex-M0 multiplies in 64 bits
    (geometry.c); every window past the first is empty, so those outputs are the bias alone."""
    p = [1, 3, 3, 2, 2, 2, 5, 2, 2, 40000, 40000, 0, 0, m.zero_point(), m.zero_point(), -128, 127]
    return ("conv2d", [bytearray(2 * 2 * 5), m.s8(3 * 3 * 2), m.s8(5 * 2 * 2 * 2), m.s32(5, -5000, 5000),
                       array("i", [1 << 30] * 5), array("i", [-6] * 5), array("i", p)])


def fast_gradient_case(m, op):
    """A convolution gradient on the fast path: an int8 error and a small start, with 4 to 9
    channels, so that the four-element loops and their tails both run; the error dense (conv2d's
    register path, grad_dot.c) or mostly zeros (the scatter, scatter.c)."""
    depthwise = op.startswith("depthwise")
    p = test_kernels_conv_grad.geometry(m, depthwise)
    p[3] = m.dim(4, 9)
    p[6] = p[3] if depthwise else m.dim(4, 9)
    batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w = p[:9]
    n = batch * out_h * out_w * out_c
    g = m.rng.integers(-128, 128, n, dtype=np.int8) * (m.rng.random(n) < m.choice([1.0, 0.3]))
    g = bytearray(g.astype(np.int8).tobytes())
    weights = (1 if depthwise else out_c) * k_h * k_w * in_c
    if op in test_kernels_conv_grad.WEIGHT_OPS:
        return (op, [m.s32(weights, -1000, 1000), m.s8(batch * in_h * in_w * in_c), g, m.params(*p, m.zero_point())])
    return (op, [m.s32(batch * in_h * in_w * in_c), m.s8(weights), g, m.params(*p)])


def depthwise_weight_sums_case(m):
    """depthwise_weight_grad's fast path with an int8 error and stride 1 along x (conv_grad.c):
    the forward op's channel sums over the rectangle of outputs each tap reads, over the whole
    error or a block of its rows, with channels left over from the groups of four."""
    p = test_kernels_conv_grad.geometry(m, True)
    while p[10] != 1:
        p = test_kernels_conv_grad.geometry(m, True)
    p[3] = p[6] = m.choice([m.dim(1, 9), 16])
    batch, in_h, in_w, in_c, out_h, out_w = p[:6]
    first_row, rows = 0, out_h
    extra = []
    if m.rng.random() < 0.5:
        first_row = m.dim(0, out_h - 1)
        rows = m.dim(1, out_h - first_row)
        extra = [0, in_c, first_row, rows]
    g = bytearray(m.rng.integers(-128, 128, batch * rows * out_w * in_c, dtype=np.int8).tobytes())
    return ("depthwise_weight_grad", [m.s32(p[7] * p[8] * in_c, -1000, 1000), m.s8(batch * in_h * in_w * in_c), g,
                                      m.params(*p, m.zero_point(), *extra)])


def one_sample_fc_weight_case(m):
    """fc_weight_grad on one sample with an int8 or int16 error (scatter.c, qnn_grad_axpy_sat): each result
    takes one product, saturated as it is added, at any start, at the ends of int32 too."""
    in_n, out_n = m.dim(1, 33), m.dim(1, 9)
    ends = array("i", m.rng.choice(np.array([-(1 << 31), (1 << 31) - 1]), out_n * in_n).tolist())
    start = m.choice([m.accumulator(out_n * in_n), ends])
    return ("fc_weight_grad", [start, m.s8(in_n), m.grad(out_n, m.choice([1, 2])),
                               m.params(1, in_n, out_n, m.zero_point())])


def cases():
    m = CaseMaker(77)
    return ([conv_case(m, "conv2d") for _ in range(60)] + [conv_case(m, "depthwise_conv2d") for _ in range(40)]
            + [fc_case(m) for _ in range(60)] + [requantize_case(m) for _ in range(60)]
            + [test_kernels_conv_grad.conv_case(m, op) for op in test_kernels_conv_grad.WEIGHT_OPS + test_kernels_conv_grad.INPUT_OPS
               for _ in range(30)]
            + [test_kernels_fc_grad.weight_case(m) for _ in range(30)] + [test_kernels_fc_grad.input_case(m) for _ in range(30)]
            + [fast_gradient_case(m, op) for op in test_kernels_conv_grad.WEIGHT_OPS + test_kernels_conv_grad.INPUT_OPS
               for _ in range(20)]
            + [depthwise_weight_sums_case(m) for _ in range(30)] + [one_sample_fc_weight_case(m) for _ in range(30)]
            + [wrapping_case(op, bias) for op in ("conv2d", "fully_connected") for bias in ((1 << 31) - 1, -(1 << 31))]
            + [unclamped_requantize_case(m.rng) for _ in range(3)] + [small_sum_case(m.rng) for _ in range(3)]
            + [rounding_edge_case(), wide_stride_case(m), saturated_output_case(127), saturated_output_case(-128)])


def run_on_board(tmp_path, board, calls):
    kernel_calls.write_calls(tmp_path / "cases.bin", calls)
    tree = deploy.files(qemu.BOARDS[board].arch, TINY) + [(tmp_path / "cases.bin", "cases.bin")]
    q = qemu.QemuBoard(board, deploy.romfs_image(tree, tmp_path / "deploy.romfs"), serve=False)
    try:
        assert q.info.arch == qemu.BOARDS[board].arch  # the natmod with the path under test
        lines = q.exec(RUNNER, timeout=120).decode().split()
    finally:
        q.close()
    return lines


def assert_board_equals_reference(board, calls, lines):
    for index, (op, args) in enumerate(calls):
        result, size, crc = f"r{lines.pop(0)}", int(lines.pop(0)), lines.pop(0)
        expected, buffers = run_reference(op, args)
        out = bytes(buffers[0])
        assert (result, size, crc) == (expected, len(out), zlib.crc32(out).to_bytes(4, "little").hex()), (
            f"{board}: case {index} ({op}): board {result}, reference {expected}")
    assert not lines


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m0"])
def test_arm_paths_equal_the_reference_at_every_alignment(tmp_path, board):
    calls = cases()
    assert_board_equals_reference(board, calls, run_on_board(tmp_path, board, calls))


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m4"])
def test_requantization_from_a_pass_table_equals_the_reference(tmp_path, board):
    """The Cortex-M0's output loop over a pass's table, which runs where the weights are widened
    (fully_connected and conv2d with a scratch), on the sums and rounding ties of its paths."""
    rng = np.random.default_rng(79)
    calls = [table_case(rng, lo) for lo in (-128, 0) for _ in range(6)] + [rounding_tie_case(rng) for _ in range(20)]
    assert_board_equals_reference(board, calls, run_on_board(tmp_path, board, calls))


def whole_words_case(m, make_case, taps_at):
    """A case of make_case(m) whose window runs are whole words (params[taps_at], in_c or
    in_features, a multiple of 4): the Cortex-M4 widens only those."""
    case = make_case(m)
    while case[1][-1][taps_at] % 4:
        case = make_case(m)
    return case


def long_window_case(m):
    """conv2d or fully_connected with windows of more taps than the Cortex-M0 widens in one call
    (256 inputs: mac.c's WIDE_X_MAX), whole rows and rows cut by padding, and a scratch that holds
    all their weights widened."""
    if m.rng.random() < 0.4:
        in_n, out_n, batch = m.dim(257, 400), m.dim(4, 6), m.dim(1, 2)
        args = [m.s8(batch * out_n), m.s8(batch * in_n), m.s8(out_n * in_n), m.bias(out_n), *m.requant(out_n),
                m.params(batch, in_n, out_n, m.zero_point(), m.zero_point(), -128, 127)]
        return "fully_connected", args + [bytearray(4 * out_n * in_n + 4)]
    in_c, out_c, k, pad = m.dim(29, 40), m.dim(4, 6), 3, m.dim(0, 1)
    in_h, in_w = m.dim(k, 4), m.dim(k, 4)
    out_h, out_w = in_h + 2 * pad - k + 1, in_w + 2 * pad - k + 1
    args = [m.s8(out_h * out_w * out_c), m.s8(in_h * in_w * in_c), m.s8(out_c * k * k * in_c), m.bias(out_c),
            *m.requant(out_c), m.params(1, in_h, in_w, in_c, out_h, out_w, out_c, k, k, 1, 1, pad, pad,
                                        m.zero_point(), m.zero_point(), -128, 127)]
    return "conv2d", args + [bytearray(4 * out_c * k * k * in_c + 4)]


def many_channels_case(m):
    """fully_connected or conv2d with more output channels than one output chunk (mac.h's
    QNN_OUTPUT_CHUNK, 32: on the Cortex-M0 the most a pass has) in a pass, whole groups of four or
    not, and a scratch that holds them all."""
    # Small: qemu-m0's ROM holds 512 KB of cases.
    in_n, out_n = 4 * m.dim(1, 2), m.choice([4 * m.dim(9, 12), m.dim(33, 48)])
    if m.rng.random() < 0.5:
        batch = m.dim(1, 3)
        args = [m.s8(batch * out_n), m.s8(batch * in_n), m.s8(out_n * in_n), m.bias(out_n), *m.requant(out_n),
                m.params(batch, in_n, out_n, m.zero_point(), m.zero_point(), -128, 127)]
        return "fully_connected", args + [bytearray(4 * out_n * in_n + 4)]
    size, k = m.dim(3, 4), 3
    args = [m.s8(size * size * out_n), m.s8(size * size * in_n), m.s8(out_n * k * k * in_n), m.bias(out_n),
            *m.requant(out_n), m.params(1, size, size, in_n, size, size, out_n, k, k, 1, 1, 1, 1,
                                        m.zero_point(), m.zero_point(), -128, 127)]
    return "conv2d", args + [bytearray(4 * out_n * k * k * in_n + 4)]


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m4"])
def test_widened_weights_equal_the_reference(tmp_path, board):
    """The loops over weights widened into a scratch (int32 on the Cortex-M0, int16 lane pairs on
    the M4), in one pass over the pixels or in several (a scratch with room for some of the
    channels), with windows cut by padding, windows longer than a call widens at once, and passes
    of more channels than one output chunk."""
    m = CaseMaker(78)
    conv = lambda m: conv_case(m, "conv2d")  # noqa: E731
    calls = [m.with_scratch(conv(m)) for _ in range(80)] + [m.with_scratch(fc_case(m)) for _ in range(40)]
    calls += [m.with_scratch(whole_words_case(m, conv, 3)) for _ in range(60)]
    calls += [m.with_scratch(whole_words_case(m, fc_case, 1)) for _ in range(30)]
    calls += [long_window_case(m) for _ in range(8)] + [many_channels_case(m) for _ in range(4)]
    assert_board_equals_reference(board, calls, run_on_board(tmp_path, board, calls))


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m4"])
def test_depthwise_taps_equal_the_reference(tmp_path, board):
    """depthwise_input_grad's tables of taps (grad_taps.c), each core's loop."""
    m = CaseMaker(37)
    calls = [test_kernels_conv_grad.depthwise_taps_case(m) for _ in range(60)]
    assert_board_equals_reference(board, calls, run_on_board(tmp_path, board, calls))


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m0"])
def test_add_tables_equal_the_reference(tmp_path, board):
    """add's lookups in its tables of 64-bit products (add.c), each core's loop, and in its int32
    tables of the rescaled inputs (a scratch of half the bytes)."""
    m = CaseMaker(38)
    calls = [tables_case(m) for _ in range(40)] + tables_edge_cases()
    calls += [(op, [*args[:-1], bytearray(ADD_SCRATCH // 2 + 3)]) for op, args in calls[:20]]
    assert_board_equals_reference(board, calls, run_on_board(tmp_path, board, calls))


def test_adds_rescaling_equals_the_reference(tmp_path):
    """add's inputs rescaled on the Cortex-M0, from two 32-bit products at left shifts from 15."""
    calls = unclamped_add_cases(np.random.default_rng(35))
    assert_board_equals_reference("qemu-m0", calls, run_on_board(tmp_path, "qemu-m0", calls))


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m4"])
def test_trainers_sgd_steps_equal_the_reference(tmp_path, board):
    """sgd_update on int8 weights with stochastic rounding past a shift of 32: the 64-bit product
    and shift in 32-bit words on the Cortex-M0, whose carries change a step only where the
    stream's output lands near it (1 in 2^t for a shift of 32 + t)."""
    m = CaseMaker(39)
    calls = [trainer_sgd_case(m) for _ in range(80)]
    assert_board_equals_reference(board, calls, run_on_board(tmp_path, board, calls))


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m4"])
def test_trainers_zo_steps_equal_the_reference(tmp_path, board):
    """zo_update in the same regime: the Cortex-M0 applies its blocks of 32 sums through the same
    loop, channel runs that cross a block's edge included."""
    m = CaseMaker(40)
    calls = [trainer_zo_case(m) for _ in range(80)]
    assert_board_equals_reference(board, calls, run_on_board(tmp_path, board, calls))
