"""The link recovering from a slow board (the retransmission timeout follows the measured round
trip) and from a host that died mid-run (the next host takes the board back from the server)."""

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from mcutrain import link as protocol
from mcutrain import model as model_module
from mcutrain.trainer import Trainer
from mcutrain_host.board import deploy, link, ports, qemu, transports
from mcutrain_host.board.session import Session, Stream, expected_checksum, format_settings
from faults import Delayed
from test_link import SETTINGS, samples
from test_trainer import TINY

needs_qemu = [
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None,
                       reason="qemu-system-arm is missing (apt-get install qemu-system-arm)"),
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None and not qemu.firmware("qemu-m0").exists(),
                       reason="the qemu firmware is not built and arm-none-eabi-gcc is missing "
                              "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"),
]


def test_a_board_slower_than_the_first_timeout_stops_costing_retransmits(tmp_path):
    ports.deploy_virtual("256K", TINY, tmp_path / "flash", SETTINGS)
    board = Delayed(transports.VirtualBoard(tmp_path / "flash", tmp_path / "board.ckpt"), latency=0.2)
    try:
        # Every answer comes 0.2 s after its frame: four times the first timeout.
        board_link = link.Link(board, window=8, initial_timeout=0.05)
        board_link.hello()
        board_link.request(protocol.CONFIG, format_settings(SETTINGS).encode())
        image = bytes(784)
        half = 60
        for i in range(2 * half):
            board_link.send_sample(struct.pack("<IBB", i, 0, i % 10) + image, lambda status, body: None)
            if i == half - 1:
                board_link.drain()
                learning = board_link.stats["retransmits"]
        board_link.drain()
        board_link.request(protocol.BYE)
    finally:
        board.close()
    settled = board_link.stats["retransmits"] - learning
    assert learning < half // 2, board_link.stats  # the first windows only, not every frame
    assert settled <= board_link.window, board_link.stats  # at most one spurious timeout once measured


def train_over_serial(pty, image, folder, report):
    """A training run on the qemu-m0 board at `pty` as on a real board on a serial port (SerialBoard:
    the server started through the raw REPL), the ROM image mounted by the prelude as qemu.QemuBoard
    does; 60 samples, batch 2. Returns the counters and the stream."""
    stream = Stream(*samples(Path(folder), 60, 4), epochs=1, batch=SETTINGS["batch"], eval_every=20)
    prelude = qemu.PRELUDE.format(address=qemu.BOARDS["qemu-m0"].rom_address, size=Path(image).stat().st_size)

    def connect(previous):
        if previous is not None:
            previous.restart()
            return previous
        return transports.SerialBoard(pty, "/rom/model.mcut", qemu.CHECKPOINT, prelude=prelude)

    session = Session(connect, SETTINGS, stream, report, checkpoint_every=5)
    try:
        counters = session.run()
    finally:
        session.close()
    return counters, stream


def board_on_a_serial_port(image):
    """qemu-m0 booted from `image` and left at its raw REPL, the files mounted, its pty free for a
    host to open as a serial port: a board that outlives its hosts, as a real one does."""
    board = qemu.QemuBoard("qemu-m0", image, serve=False)
    board.repl.close()
    board.repl = board.serial = None
    return board


HOST = """
import json, sys
from test_link_recovery import train_over_serial
train_over_serial(*sys.argv[1:4], lambda record: print(json.dumps(record), flush=True))
"""


@needs_qemu[0]
@needs_qemu[1]
def test_a_host_killed_mid_run_leaves_a_board_the_next_host_takes_back(tmp_path):
    """A real board outlives its host: QEMU is started here, and each host reaches it through its pty."""
    image = qemu.deploy_image("qemu-m0", TINY, tmp_path / "deploy.romfs")
    board = board_on_a_serial_port(image)
    try:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent)] + sys.path))
        (tmp_path / "killed").mkdir()
        host = subprocess.Popen([sys.executable, "-c", HOST, board.pty, str(image), str(tmp_path / "killed")],
                                stdout=subprocess.PIPE, env=env, text=True)
        steps = 0
        for line in host.stdout:
            steps += json.loads(line)["event"] == "step"
            if steps == 4:  # mid-run, with samples in flight
                break
        host.send_signal(signal.SIGKILL)
        host.wait()
        assert steps == 4, "the first host did not get going"
        (tmp_path / "next").mkdir()
        counters, stream = train_over_serial(board.pty, image, tmp_path / "next", lambda record: None)
        assert counters[1:] == (stream.total, expected_checksum(stream.total))
    finally:
        board.close()


@needs_qemu[0]
@needs_qemu[1]
def test_a_serial_board_takes_the_arena_its_host_sizes_or_is_let_go(tmp_path):
    """A board on a serial port reports its free heap before the server starts: the host either
    refuses the plan (and lets go of the port) or starts the server with the plan's arena, which
    the board takes first and the trainer then fills."""
    image = qemu.deploy_image("qemu-m0", TINY, tmp_path / "deploy.romfs")
    board = board_on_a_serial_port(image)
    prelude = qemu.PRELUDE.format(address=qemu.BOARDS["qemu-m0"].rom_address, size=image.stat().st_size)
    seen = []

    def refuse(info):
        seen.append(info.free)
        raise deploy.DeployError("the plan does not fit")

    arena = Trainer(model_module.load(str(TINY)), **SETTINGS).model.planned
    try:
        with pytest.raises(deploy.DeployError):
            transports.SerialBoard(board.pty, "/rom/model.mcut", qemu.CHECKPOINT, prelude=prelude, fit=refuse)
        assert len(seen) == 1 and 100_000 < seen[0] < qemu.DEFAULT_HEAP
        # 4 KB more than the plan: the arena the trainer fills is the one the host sized, not its own.
        serial = transports.SerialBoard(board.pty, "/rom/model.mcut", qemu.CHECKPOINT, prelude=prelude,
                                        fit=lambda info: arena + 4096)
        try:
            board_link = link.Link(serial)
            board_link.hello()
            board_link.request(protocol.CONFIG, format_settings(SETTINGS).encode())
            stats = dict(item.split("=", 1) for item in board_link.request(protocol.STATS).split(";"))
            board_link.request(protocol.BYE)
        finally:
            serial.close()
        assert int(stats["arena"]) == arena + 4096 and int(stats["planned"]) == arena
    finally:
        board.close()


def help_examples(command):
    """The example command lines of `mcutrain COMMAND --help` that run on a board started here (the
    virtual or an emulated one), as argument lists."""
    text = subprocess.run([sys.executable, "-m", "mcutrain_host.cli", command, "--help"], capture_output=True,
                          text=True, check=True).stdout
    examples = [line.split()[1:] for line in text.split("examples:")[1].splitlines() if line.strip()]
    return [args for args in examples
            if "--port" not in args or args[args.index("--port") + 1].startswith(("sim", "qemu-"))]


@pytest.mark.parametrize("command", ["deploy", "bench"])
def test_every_help_example_on_a_board_started_here_runs(command):
    examples = help_examples(command)
    assert examples and all(args[0] == command for args in examples)
    for args in examples:
        if any(arg.startswith("qemu-") for arg in args) and shutil.which("qemu-system-arm") is None:
            continue
        proc = subprocess.run([sys.executable, "-m", "mcutrain_host.cli", *args], capture_output=True, text=True,
                              timeout=1800)
        assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-2000:])
