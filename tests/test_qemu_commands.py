"""`--port qemu-m0` in the commands that use a board besides train and eval: deploy builds the
emulated board's ROM image and checks the fit on the booted board, repl resumes a run's trainer
from the checkpoints in the run's flash folder, bench runs there in virtual microseconds."""

import re

from mcutrain_host import cli, instructions
from mcutrain_host.board import micropython, qemu
from mcutrain_host.commands import repl
from mcutrain_host.commands.train import model_identity
from test_bench_boards_repl import crafted_run
from test_link_recovery import board_on_a_serial_port
from test_qemu_boards import pytestmark  # noqa: F401  (the same skip reasons)

TINY = micropython.REPO / "models" / "tiny.mcut"


def test_deploy_builds_the_image_and_confirms_with_the_boards_hello(capsys):
    assert cli.main(["deploy", "--port", "qemu-m0"]) == 0
    out = capsys.readouterr().out
    assert "arch armv6m, .mpy ABI 6.3" in out and "kernels=qnn" in out and f"model={model_identity(TINY)}" in out
    assert f"booted from {micropython.build_dir() / 'qemu-m0-deploy' / 'romfs.img'}" in out


def test_deploy_refuses_a_plan_larger_than_the_boards_heap(capsys):
    assert cli.main(["deploy", "--port", "qemu-m0", "--method", "fqt", "--batch", "32"]) == 1
    err = capsys.readouterr().err
    assert "KB free (qemu-m0's heap is 190K; --heap sets up to 240K, and the board tells if that holds it); the " \
           "plan's arena takes" in err


def test_a_plan_the_board_refuses_fits_the_larger_heap_the_refusal_names(capsys):
    # The 64-bit estimate exceeds even 240K; the 32-bit board decides, and at 240K it holds.
    plan = ["deploy", "--port", "qemu-m0", "--method", "fqt", "--batch", "12"]
    assert cli.main(plan) == 1
    err = capsys.readouterr().err
    assert "the board could not build the training plan (MemoryError: " in err and "--heap sets up to 240K" in err
    assert cli.main(plan + ["--heap", "240K"]) == 0  # firmware with that heap, built on first use
    out = capsys.readouterr().out
    free = int(re.search(r"(\d+) KB of heap were free", out).group(1))
    assert 190 < free < 240 and "the board built the training plan in an arena of" in out


def test_deploy_to_a_serial_board_without_a_filesystem_says_so_and_what_to_do(tmp_path, capsys):
    """The qemu port has no writable filesystem: as a serial board (its pty), deploy cannot make /lib."""
    board = board_on_a_serial_port(qemu.deploy_image("qemu-m0", TINY, tmp_path / "deploy.romfs"))
    try:
        assert cli.main(["deploy", "--port", board.pty]) == 1
    finally:
        board.close()
    err = capsys.readouterr().err
    assert "cannot create /lib on the board" in err and "no writable filesystem" in err and "--port qemu-m0" in err


def test_bench_runs_on_the_emulated_board_in_virtual_microseconds(capsys):
    """Under -icount a microsecond of the board's timer (boards/qemu/time.py) is 1000 instructions:
    the bench's FQT step agrees with SysTick's count of an FQT step (mcutrain_host.instructions).
    Their inputs differ (the bench's pattern, the count's), and with them the sums a ReLU zeroes and
    the errors FQT skips: a few percent apart, where a wrong clock would be 1.5625 times off or more."""
    assert cli.main(["bench", "--port", "qemu-m0", "--method", "fqt", "--repeat", "2", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "1000 instructions" in out and "conv2d" in out
    step_us = int(re.search(r"^fqt +(\d+)", out, re.M).group(1))
    counted = instructions.training_steps("qemu-m0", TINY, [("fqt", {"method": "fqt"})])["fqt"]["instructions"]
    assert abs(step_us * 1000 - counted) < 0.05 * counted, (step_us, counted)


def test_repl_resumes_the_runs_trainer_from_its_flash_then_hands_the_pty_to_mpremote(monkeypatch, tmp_path, capsys):
    """A run's checkpoint in RUN/flash (where a qemu run keeps them): the booted board resumes it,
    and the REPL handed over still has `t` bound."""
    from mpremote.transport_serial import SerialTransport

    t = crafted_run(tmp_path, steps=3)
    (tmp_path / "flash").mkdir()
    for slot in tmp_path.glob("board.ckpt.*"):
        slot.rename(tmp_path / "flash" / slot.name.replace("board.ckpt", "mcutrain.ckpt"))
    seen = []

    def mpremote(command):
        assert command[-4] == "connect" and command[-2:] == ["resume", "repl"]
        board = SerialTransport(command[-3], baudrate=115200)
        try:
            board.enter_raw_repl(soft_reset=False)
            seen.append(board.exec("print(t.steps, t.samples, t.lr, checksum[0])").decode().strip())
        finally:
            board.close()
        return 0

    monkeypatch.setattr(repl.subprocess, "call", mpremote)
    assert cli.main(["repl", "--port", "qemu-m0", "--run", str(tmp_path)]) == 0
    assert f"resumed from /flash/mcutrain.ckpt at step {t.steps}" in capsys.readouterr().out
    assert seen == [f"{t.steps} {t.samples} 0.002 19088743"]  # the run's final settings; the saved checksum
