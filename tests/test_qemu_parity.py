"""Kernel parity on ARM: a sample of every kernel's cases from the virtual-board parity suite, run
by the qnn natmod on the emulated Cortex-M0 (armv6m), Cortex-M3 (armv7m) and Cortex-M4F
(armv7emsp), must equal the NumPy reference byte for byte, errors included.

Fewer cases than on the virtual board: the cases file rides in the ROM image, the results come
back in a file. The board places the buffers as the virtual board's parity does (parity.py:
int8 at every offset, int16 at 2), where a word load from them would fault on the Cortex-M0, and
the board's fault report fails the test at once."""

import inspect

import numpy as np
import pytest

from kernel_cases import CaseMaker
from mcutrain import reference
from mcutrain_host import kernel_calls
from mcutrain_host.board import deploy, qemu
from parity import BOARD_RUNNER, read_results, run_reference
from test_qemu_boards import BOARDS, pytestmark  # noqa: F401  (the same skip reasons)
from test_trainer import TINY
import test_kernels_add
import test_kernels_argmax
import test_kernels_bias_grad
import test_kernels_clamp_mask
import test_kernels_conv2d
import test_kernels_conv_grad
import test_kernels_crc32
import test_kernels_fc_grad
import test_kernels_frame
import test_kernels_fully_connected
import test_kernels_loss
import test_kernels_perturb
import test_kernels_pool
import test_kernels_pool_grad
import test_kernels_requantize
import test_kernels_standardize
import test_kernels_updates
import test_kernels_zo_update
import test_kernels_zo_node_gradient

VALID, BROKEN = 5, 2  # cases per kernel: valid ones, and ones with an argument broken (break_case)

# Results go to a file in the board's /flash (a host folder, through semihosting), not over the
# UART: QEMU's nRF51 UART stops for good when the host falls behind a long output.
RUNNER = BOARD_RUNNER + '\nmain("/rom/cases.bin", "/flash/results.bin")\nprint("done")\n'


def fill_case(m):
    n = m.dim(0, 50)
    value = m.choice([0, -128, 127, 128, -129, int(m.rng.integers(-(1 << 31), 1 << 31))])
    return ("fill", [m.s8(n) if m.rng.random() < 0.5 else m.s32(n), value])


def makers(m, rng):
    """op -> a function making one valid case of it, drawn as the virtual board's suite draws."""
    frame_count = iter(range(1 << 30))
    conv, conv_grad, pool_grad = test_kernels_conv2d.conv_case, test_kernels_conv_grad.conv_case, test_kernels_pool_grad.pool_case
    made = {op: (lambda op=op: conv(m, op)) for op in ("conv2d", "depthwise_conv2d")}
    made |= {op: (lambda op=op: conv_grad(m, op)) for op in test_kernels_conv_grad.WEIGHT_OPS + test_kernels_conv_grad.INPUT_OPS}
    made |= {op: (lambda op=op: pool_grad(m, op)) for op in ("avg_pool_input_grad", "max_pool_input_grad", "global_avg_pool_input_grad")}
    made |= {op: (lambda op=op: test_kernels_pool.pool_case(m, op)) for op in ("max_pool", "avg_pool")}
    made |= {op: (lambda op=op: test_kernels_perturb.perturbation_case(m, op)) for op in ("perturb", "unperturb")}
    made |= {op: (lambda make=make: make(m)) for op, make in test_kernels_updates.MAKERS.items()}
    made |= {
        "fully_connected": lambda: test_kernels_fully_connected.fc_case(m),
        "global_avg_pool": lambda: test_kernels_pool.global_case(m),
        "add": lambda: test_kernels_add.add_case(m),
        "requantize": lambda: test_kernels_requantize.requantize_case(m),
        "argmax": lambda: test_kernels_argmax.argmax_case(m),
        "zo_node_gradient": lambda: test_kernels_zo_node_gradient.node_case(m),
        "fill": lambda: fill_case(m),
        "seeds": lambda: test_kernels_zo_update.seeds_case(m),
        "zo_update": lambda: test_kernels_zo_update.zo_case(m, int32=m.rng.random() < 0.3),
        "fc_weight_grad": lambda: test_kernels_fc_grad.weight_case(m),
        "fc_input_grad": lambda: test_kernels_fc_grad.input_case(m),
        "bias_grad": lambda: test_kernels_bias_grad.bias_case(m),
        "clamp_mask": lambda: test_kernels_clamp_mask.mask_case(m),
        "standardize": lambda: test_kernels_standardize.standardize_case(m),
        "channel_norms": lambda: test_kernels_standardize.channel_norms_case(m),
        "cross_entropy": lambda: test_kernels_loss.loss_case(m),
        "crc32": lambda: test_kernels_crc32.crc_case(rng),
        "frame_encode": lambda: test_kernels_frame.encode_case(rng, next(frame_count)),
        "frame_decode": lambda: test_kernels_frame.decode_case(rng, next(frame_count)),
        "copy": lambda: test_kernels_frame.copy_case(rng),
    }
    return made


def cases():
    m, rng = CaseMaker(71), np.random.default_rng(71)
    made = makers(m, rng)
    # int32_view makes a view rather than computing into buffers: tests/test_kernels_int32_view.py.
    kernels = {name for name, f in vars(reference).items() if inspect.isfunction(f)} - {"int32_view"}
    assert set(made) == kernels, f"kernels without cases here: {sorted(kernels - set(made))}"
    return [case for make in made.values()
            for case in [make() for _ in range(VALID)] + [m.break_case(make()) for _ in range(BROKEN)]]


CASES = cases()
EXPECTED = [run_reference(op, args) for op, args in CASES]


def test_the_sample_has_errors_and_results_of_every_kernel():
    ops = {op for op, _ in CASES}
    assert {op for (op, _), (r, _) in zip(CASES, EXPECTED) if r.startswith("r")} == ops
    assert sum(r.startswith("e") for r, _ in EXPECTED) >= len(ops)


@pytest.mark.parametrize("board", BOARDS)
def test_kernels_equal_the_reference_on_arm(tmp_path, board):
    kernel_calls.write_calls(tmp_path / "cases.bin", CASES)
    tree = deploy.files(qemu.BOARDS[board].arch, TINY) + [(tmp_path / "cases.bin", "cases.bin")]
    q = qemu.QemuBoard(board, deploy.romfs_image(tree, tmp_path / "deploy.romfs"), flash=tmp_path / "flash", serve=False)
    try:
        assert q.exec(RUNNER, timeout=120).strip() == b"done"
    finally:
        q.close()
    offsets = {1: set(), 2: set()}  # element size -> the offsets its buffers were at
    results = read_results(tmp_path / "flash" / "results.bin", CASES)
    for index, ((op, args), (result, buffers, at), expected) in enumerate(zip(CASES, results, EXPECTED)):
        assert (result, buffers) == expected, (
            f"{board}: case {index} ({op}) differs:\n  reference: {expected[0]} {[b.hex() for b in expected[1]]}\n"
            f"  board:     {result} {[b.hex() for b in buffers]}")
        for a, offset in zip([a for a in args if not isinstance(a, int)], at):
            if memoryview(a).itemsize in offsets:
                offsets[memoryview(a).itemsize].add(offset)
    assert offsets == {1: {0, 1, 2, 3}, 2: {0, 2}}
