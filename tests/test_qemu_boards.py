"""The emulated Cortex-M boards (issue #7): MicroPython's qemu port under qemu-system-arm, with
the qnn natmod for the board's arch and the package deployed as a ROMFS image, driven over a pty
by the same host session as the virtual board (host/mcutrain_host/board/qemu.py)."""

import json
import shutil
import time
import zlib

import pytest

from mcutrain import model as model_module
from mcutrain_host import cli
from mcutrain_host.board import deploy, qemu
from mcutrain_host.board.session import Session, Stream, expected_checksum
from test_link import SETTINGS, newest_checkpoint, samples
from test_trainer import TINY, TRAIN_STEPS, corrupted_samples, run_both

pytestmark = [
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None,
                       reason="qemu-system-arm is missing (apt-get install qemu-system-arm)"),
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None and not qemu.firmware("qemu-m0").exists(),
                       reason="the qemu firmware is not built and arm-none-eabi-gcc is missing "
                              "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"),
]

BOARDS = ["qemu-m0", "qemu-m3", "qemu-m4"]
FROZEN = [f"{board}-frozen" for board in BOARDS]  # the package and qnn in the firmware (#16)

KERNELS = """
import qnn, sys, gc
from array import array
state = array('i', [0])
qnn.crc32(state, b'123456789')
out = array('i', [0, 0])
qnn.argmax(out, bytes([1, 9, 3, 0x80, 0x7f, 2]), array('i', [2, 3]))
gc.collect()
print(sys.implementation._mpy >> 10, state[0] & 0xffffffff, list(out), gc.mem_free())
"""


@pytest.mark.parametrize("board", BOARDS)
def test_the_board_boots_mounts_the_image_and_runs_kernels(tmp_path, board):
    image = qemu.deploy_image(board, TINY, tmp_path / "deploy.romfs")
    q = qemu.QemuBoard(board, image, serve=False)
    try:
        assert q.info.arch == qemu.BOARDS[board].arch or (board == "qemu-m3" and q.info.arch == "armv7em")
        assert q.info.free > 180_000  # the 190 KB heap, less what the prelude holds
        arch, crc, out, free = q.exec(KERNELS).decode().split(maxsplit=3)
        assert int(crc) == zlib.crc32(b"123456789")
        assert out == "[1," and free.startswith("1]")  # row 0: 9 at index 1; row 1: 0x7f at index 1
        listing = q.exec("import os; print(sorted(os.listdir('/rom/lib')), os.listdir('/rom'))").decode()
        assert "'qnn.mpy'" in listing and "'model.mcut'" in listing
    finally:
        q.close()
    assert q.process is None


@pytest.mark.parametrize("board", FROZEN)
def test_a_frozen_board_runs_the_kernels_and_package_from_its_firmware(tmp_path, board):
    image = qemu.deploy_image(board, TINY, tmp_path / "deploy.romfs")
    q = qemu.QemuBoard(board, image, serve=False)
    try:
        arch, crc, out, free = q.exec(KERNELS).decode().split(maxsplit=3)
        assert int(crc) == zlib.crc32(b"123456789") and out == "[1,"
        where = q.exec("import os, qnn, time, mcutrain.trainer as t\n"
                       "print(os.listdir('/rom'), hasattr(qnn, '__file__'), t.__file__, time.__file__)").decode()
        assert where.split() == ["['model.mcut']", "False", "mcutrain/trainer.py", "time.py"], where  # not /rom/lib/...
    finally:
        q.close()


@pytest.mark.parametrize("board", BOARDS + FROZEN)
def test_a_short_training_session_over_the_pty(tmp_path, board):
    """20 training samples of tiny (batch 2: 10 steps) and two evaluations of 4 samples; a
    checkpoint into the board's /flash (a host folder); the board's counters and sample checksum."""
    started = time.monotonic()
    train_x, train_y, test_x, test_y = samples(tmp_path, 20, 4)
    stream = Stream(train_x, train_y, test_x, test_y, epochs=1, batch=SETTINGS["batch"], eval_every=20)
    image = qemu.deploy_image(board, TINY, tmp_path / "deploy.romfs")

    def connect(previous):
        if previous is not None:
            previous.restart()
            return previous
        return qemu.QemuBoard(board, image)

    records = []
    session = Session(connect, SETTINGS, stream, records.append, checkpoint_every=5)
    try:
        booted = time.monotonic()
        steps, count, checksum = session.run()
        stats = session.stats()
    finally:
        session.close()
    finished = time.monotonic()
    assert (steps, count, checksum) == (10, 20, expected_checksum(20))
    assert stats["samples"] == "20" and int(stats["heap"]) > 0
    evals = [r for r in records if r["event"] == "eval"]
    assert [r["total"] for r in evals] == [4, 4]
    assert session.reconnects == 0 and session.transport.process is None
    print(f"\n{board}: image {booted - started:.1f} s, boot + 20 samples + 2 evaluations + save "
          f"{finished - booted:.1f} s, heap {stats['heap']}")


def m0_run(tmp_path, kill_at=None):
    """40 samples of tiny (batch 2: 20 steps, a checkpoint every 5) on qemu-m0, its /flash in
    tmp_path/flash; kill_at: QEMU is killed once, when the step of that many samples is reported.
    Returns the counters, the records, the session and the newest checkpoint's bytes."""
    tmp_path.mkdir()
    train_x, train_y, test_x, test_y = samples(tmp_path, 40, 4)
    stream = Stream(train_x, train_y, test_x, test_y, epochs=1, batch=SETTINGS["batch"], eval_every=40)
    image = qemu.deploy_image("qemu-m0", TINY, tmp_path / "deploy.romfs")
    boards = []

    def connect(previous):
        if previous is not None:
            previous.restart()
            return previous
        boards.append(qemu.QemuBoard("qemu-m0", image, flash=tmp_path / "flash"))
        return boards[0]

    records = []

    def report(record):
        records.append(record)
        if record["event"] == "step" and record["samples"] == kill_at and boards[0].restarts == 0:
            boards[0].kill()

    session = Session(connect, SETTINGS, stream, report, checkpoint_every=5)
    try:
        counters = session.run()
    finally:
        session.close()
    return counters, records, session, newest_checkpoint(tmp_path / "flash" / "mcutrain.ckpt")


def test_a_cortex_m0_killed_mid_run_resumes_from_its_checkpoint_in_flash(tmp_path):
    """QEMU killed after step 14 (the board's RAM gone): the restarted board resumes from the
    checkpoint of step 10 in its /flash folder and ends with the bytes of a run never killed."""
    _, _, _, clean = m0_run(tmp_path / "clean")
    counters, records, session, resumed = m0_run(tmp_path / "killed", kill_at=28)
    assert session.reconnects == 1
    assert [r["resumed_at"] for r in records if r["event"] == "reconnect"] == [20]
    assert counters == (20, 40, expected_checksum(40))
    assert resumed == clean


def test_zo_adaptation_over_the_link_improves_tiny_on_the_cortex_m0(tmp_path):
    """`mcutrain train --port qemu-m0`: the RP2040 stand-in adapts tiny to fog (which costs it
    about 70 points) from 100 samples by the default ZO method, node perturbation of its last two
    layers."""
    out = tmp_path / "run"
    assert cli.main(["train", "--port", "qemu-m0", "--samples", "100", "--test", "100", "--eval-every", "100",
                     "--corruption", "fog", "--out", str(out)]) == 0
    end = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert end["board"]["arch"] == "4" and end["checksum"] == end["expected_checksum"]
    assert end["accuracy_after"] >= end["accuracy_before"] + 0.05, end


@pytest.mark.parametrize("settings", ["mode=np,layers=4/6,queries=4", "method=fqt,layers=4/6,lr=0.003"],
                         ids=["zo", "fqt"])
@pytest.mark.parametrize("m0", ["qemu-m0", "qemu-m0-frozen"])
def test_20_steps_leave_the_same_bytes_on_the_cortex_m0_the_virtual_board_and_cpython(board, tmp_path, settings, m0):
    """The armv6m natmod (or qnn built into the firmware) on an emulated Cortex-M0, the x64 natmod
    on the unix port and the NumPy reference on CPython: the same weights and losses after 20 steps
    of batch 2."""
    data = tmp_path / "samples.bin"
    corrupted_samples(data, 16)  # cycled: the whole file is read into the board's RAM
    on_virtual, on_cpython = run_both(board, tmp_path, [TINY, data, 20, 2, settings])
    code = [] if qemu.BOARDS[m0].frozen else deploy.files("armv6m", TINY)[:-1]
    tree = code + [(TINY, "model.mcut"), (data, "samples.bin")]
    image = deploy.romfs_image(tree, tmp_path / "deploy.romfs")
    program = TRAIN_STEPS.replace(
        "path, data_path, steps, batch, settings = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]",
        f"path, data_path, steps, batch, settings = '/rom/model.mcut', '/rom/samples.bin', 20, 2, {settings!r}")
    # The same output, the weights written tensor by tensor to the board's /flash: 19 KB of hex
    # over the emulated UART comes near the size at which it stalls if the host falls behind (qemu.py).
    program = program.replace(
        'for layer in m.layers:\n    if layer.weight is not None:\n        print(bytes(layer.weight).hex(), end=" ")\n'
        '        print(bytes(layer.bias).hex(), end=" ")\nprint()\n',
        'with open("/flash/weights.txt", "w") as f:\n    for layer in m.layers:\n'
        '        if layer.weight is not None:\n            for t in (layer.weight, layer.bias):\n'
        '                f.write((bytes(t).hex() + " ").encode())\n')
    assert "/flash/weights.txt" in program and "/rom/samples.bin" in program
    q = qemu.QemuBoard(m0, image, serve=False)
    try:
        losses = q.exec(program, timeout=300).decode().replace("\r\n", "\n")
        on_m0 = (q.flash / "weights.txt").read_text() + "\n" + losses
    finally:
        q.close()
    initial = "".join(bytes(t).hex() + " " for layer in model_module.load(str(TINY)).layers if layer.weight is not None
                      for t in (layer.weight, layer.bias))
    assert on_m0.splitlines()[0] != initial
    assert on_m0 == on_virtual == on_cpython
