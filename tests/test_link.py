"""The serial link end to end: the host (mcutrain_host.board.link, .session) and the virtual board
(mcutrain.serve on MicroPython with the qnn natmod), over a pipe or a pty, through damage,
resets and live settings."""

import struct

import numpy as np
import pytest

from mcutrain import link as protocol
from mcutrain_host.board import link, ports, transports
from mcutrain_host.board.session import Session, Stream, expected_checksum
from faults import Faulty
from test_trainer import TINY, corrupted_samples

SETTINGS = {"method": "zo", "mode": "np", "layers": [4, 6], "queries": 2, "lr": 0.001, "batch": 2}


def samples(tmp_path, train, test):
    path = tmp_path / "samples.bin"
    corrupted_samples(path, train + test)
    data = path.read_bytes()
    size = 784
    images = [data[i * size:(i + 1) * size] for i in range(train + test)]
    labels = np.frombuffer(data[(train + test) * size:], dtype=np.uint8)
    return images[:train], labels[:train], images[train:], labels[train:]


def run(tmp_path, train=300, test=20, wrap=None, pty=False, on_record=None, settings=SETTINGS, pending=dict, guard=0):
    """A run on the virtual board, with a guard of the first `guard` samples if asked."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    train_x, train_y, test_x, test_y = samples(tmp_path, guard + train, test)
    stream = Stream(train_x[guard:], train_y[guard:], test_x, test_y, epochs=1, batch=settings["batch"],
                    eval_every=100, guard_x=train_x[:guard], guard_y=train_y[:guard])
    boards = []

    def connect(previous):
        if previous is not None:
            previous.restart()
            return previous
        ports.deploy_virtual("256K", TINY, tmp_path / "flash", settings)
        board = transports.VirtualBoard(tmp_path / "flash", tmp_path / "board.ckpt", heap="256K", pty=pty)
        boards.append(board)
        return wrap(board) if wrap else board

    records = []

    def report(record):
        records.append(record)
        if on_record:
            on_record(record, boards[0])

    session = Session(connect, settings, stream, report, pending=pending, checkpoint_every=5)
    try:
        counters = session.run()
        stats = session.stats()
    finally:
        session.close()
    return counters, stats, records, session, newest_checkpoint(tmp_path / "board.ckpt")


def newest_checkpoint(path):
    """The bytes of the checkpoint slot with the most steps (header: magic, version, count, step)."""
    slots = [p for p in (path.with_name(path.name + ".0"), path.with_name(path.name + ".1")) if p.exists()]
    return max((p.read_bytes() for p in slots), key=lambda b: struct.unpack_from("<I", b, 8)[0])


def test_parser_finds_frames_among_noise_and_damage():
    frames = [link.encode(protocol.ACK, seq, bytes([0]) + bytes(range(seq, seq + 250)) * 2) for seq in range(5)]
    damaged = bytearray(frames[2])
    damaged[100] ^= 0x40
    stream = b"REPL noise\r\n" + frames[0] + frames[1] + bytes(damaged) + b"\x00\x81" + frames[3] + frames[4]
    parser = link.Parser()
    got = []
    for i in range(0, len(stream), 7):  # arriving in small pieces, as from a serial port
        got.extend(parser.feed(stream[i:i + 7]))
    assert [seq for _, seq, _ in got] == [0, 1, 3, 4]
    assert got[2][2] == bytes([0]) + bytes(range(3, 253)) * 2
    assert parser.damaged >= 1
    assert b"REPL noise" in parser.noise


def test_a_clean_run_applies_every_sample_once_and_says_bye(tmp_path):
    (steps, count, checksum), stats, records, session, _ = run(tmp_path)
    assert (steps, count) == (150, 300)
    assert checksum == expected_checksum(300)
    assert stats["samples"] == "300" and int(stats["heap"]) > 0
    evals = [r for r in records if r["event"] == "eval"]
    assert [r["round"] for r in evals] == [0, 1, 2, 3] and all(r["total"] == 20 for r in evals)
    assert session.transport.process is None  # the board left the server after BYE and exited


def test_damaged_dropped_duplicated_and_delayed_bytes_change_nothing(tmp_path):
    """1% of bytes corrupted (in 32-byte bursts) plus drops, duplicates and delays, both ways:
    every sample applied exactly once, and the board ends with the very bytes of a clean run."""
    _, _, _, _, clean = run(tmp_path / "clean")
    faulty = []

    def wrap(board):
        faulty.append(Faulty(board, np.random.default_rng(3)))
        return faulty[0]

    (steps, count, checksum), stats, _, session, damaged = run(tmp_path / "faulty", wrap=wrap)
    assert (steps, count, checksum) == (150, 300, expected_checksum(300))
    assert faulty[0].counts["corrupted"] > 0 and faulty[0].counts["dropped"] > 0
    assert session.link_stats["retransmits"] > 0
    assert damaged == clean


def test_a_board_killed_mid_run_resumes_from_its_checkpoint(tmp_path):
    _, _, _, _, clean = run(tmp_path / "clean")
    killed = []

    def kill_once(record, board):
        if record["event"] == "step" and record["samples"] == 138 and not killed:
            killed.append(record["samples"])
            board.kill()

    (steps, count, checksum), _, records, session, resumed = run(tmp_path / "killed", on_record=kill_once)
    assert killed and session.reconnects == 1
    reconnect = [r for r in records if r["event"] == "reconnect"]
    # The last checkpoint (every 5 steps, 10 samples) before the kill: the board may be up to a
    # window of frames (8 samples) ahead of the step record the host saw at sample 138.
    assert reconnect and reconnect[0]["resumed_at"] in (130, 140)
    assert (steps, count, checksum) == (150, 300, expected_checksum(300))
    assert resumed == clean


def test_live_settings_apply_between_steps_and_refusals_are_recorded(tmp_path):
    typed = [{"lr": 0.002}, {"queries": 0}, {"lr": 0.0005}]

    def pending():
        return typed.pop(0) if typed else {}

    (_, count, checksum), stats, records, session, _ = run(tmp_path, train=40, pending=pending)
    sets = [r for r in records if r["event"] == "set"]
    assert [(r["key"], r["value"]) for r in sets] == [("lr", 0.002), ("queries", 0), ("lr", 0.0005)]
    assert "error" not in sets[0] and "queries" in sets[1]["error"] and "error" not in sets[2]
    assert session.settings["lr"] == 0.0005 and session.settings["queries"] == 2
    assert (count, checksum) == (40, expected_checksum(40))


def test_over_a_pty_ctrl_c_bytes_in_frames_do_not_interrupt_the_board(tmp_path):
    (_, count, checksum), _, _, _, _ = run(tmp_path, train=20, pty=True,
                                          settings=dict(SETTINGS, batch=1))
    assert (count, checksum) == (20, expected_checksum(20))


def test_the_board_refuses_a_sample_of_the_wrong_size(tmp_path):
    ports.deploy_virtual("256K", TINY, tmp_path / "flash", {"layers": [6]})
    board = transports.VirtualBoard(tmp_path / "flash", tmp_path / "board.ckpt")
    host = link.Link(board)
    try:
        host.hello()
        host.request(protocol.CONFIG, b"method=zo;layers=6")
        answers = []
        host.send_sample(struct.pack("<IBB", 0, 0, 1) + bytes(100), lambda status, body: answers.append((status, body)))
        host.drain()
        assert answers[0][0] == protocol.FAILED and b"784" in answers[0][1]
        with pytest.raises(link.BoardError, match="unknown setting .learning_rate."):
            host.request(protocol.CONFIG, b"learning_rate=0.1")
        assert host.request(protocol.BYE) == "bye"
    finally:
        board.close()
