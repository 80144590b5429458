"""mcutrain bench, boards and repl: latency and memory on the virtual board, the serial ports,
and the REPL with the last run's trainer resumed."""

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
from array import array
from pathlib import Path
from types import SimpleNamespace

import pytest

from mcutrain import bench as device_bench
from mcutrain import model as device_model
from mcutrain.trainer import Trainer
from mcutrain_host import run_folder
from mcutrain_host.board import deploy, micropython, virtual
from mcutrain_host.commands import bench, boards, repl

TINY = micropython.REPO / "models" / "tiny.mcut"
# Runs one command module as `mcutrain` would, without the CLI's registration.
RUNNER = """
import argparse, importlib, sys
module = importlib.import_module("mcutrain_host.commands." + sys.argv[1])
p = argparse.ArgumentParser(prog="mcutrain")
module.add_parser(p.add_subparsers())
args = p.parse_args(sys.argv[1:])
sys.exit(args.run(args))
"""


def parse_args(module, *argv):
    p = argparse.ArgumentParser(prog="mcutrain")
    module.add_parser(p.add_subparsers())
    return p.parse_args([module.__name__.rsplit(".", 1)[1], *argv])


def run_command(module, *argv):
    args = parse_args(module, *argv)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = args.run(args)
    return code, out.getvalue()


def test_help_teaches():
    for module, name in ((bench, "bench"), (boards, "boards"), (repl, "repl")):
        p = argparse.ArgumentParser(prog="mcutrain")
        sub = p.add_subparsers()
        module.add_parser(sub)
        text = sub.choices[name].format_help()
        assert f"examples:\n  mcutrain {name}" in text
        assert sub.choices[name].description


# bench


def test_bench_on_the_virtual_board_times_every_layer_and_both_methods():
    args = parse_args(bench, "--method", "zo", "--method", "fqt", "--repeat", "5", "--steps", "1")
    output, errors = bench.run_virtual(args)
    report = bench.parse(output)
    assert report is not None and report["complete"], output + errors
    assert report["header"]["kernels"] == "qnn"
    m = device_model.load(str(TINY))
    assert [(r["index"], r["op"]) for r in report["layers"]] == [(layer.index, layer.op) for layer in m.layers]
    assert all(r["us"] > 0 for r in report["layers"])
    first, fc = m.layers[0], m.layers[-1]
    h, w, c = first.record.shape
    assert report["layers"][0]["macs"] == h * w * c * 3 * 3 * first.in_shape[2]
    assert report["layers"][-1]["macs"] == fc.record.shape[2] * device_model.elements(fc.in_shape)
    assert all(r["macs"] == 0 for r in report["layers"] if r["op"] == "max_pool")
    assert report["infer"]["us"] > 0
    steps = {s["name"]: s for s in report["steps"]}
    assert set(steps) == {"zo-mix", "fqt"}
    assert all(s["us"] > 0 for s in steps.values())
    for stage in ("model", "zo-mix", "fqt"):
        memory = report["memory"][stage]
        assert memory["heap_used"] > 0 and memory["heap_free"] > 0 and memory["weights"] > 0
    assert report["memory"]["zo-mix"]["training"] > 0


def test_bench_command_prints_the_table():
    code, out = run_command(bench, "--method", "zo", "--method", "fqt", "--repeat", "3", "--steps", "1")
    assert code == 0, out
    for op in ("conv2d", "max_pool", "fully_connected"):
        assert op in out
    assert "MMAC/s" in out and "per image" in out
    assert "zo-mix" in out and "fqt" in out and "heap used" in out


def test_bench_reports_a_method_that_cannot_run():
    # The hybrid needs more trainable layers than fqt_layers: refused, reported, exit 1.
    code, out = run_command(bench, "--method", "hybrid", "--layers", "6", "--repeat", "1", "--steps", "1")
    assert code == 1
    assert "hybrid-mix" in out and "failed: ValueError" in out


def test_device_bench_runs_on_cpython_too():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        device_bench.main(str(TINY), methods=("fqt",), repeat=1, steps=1)
    report = bench.parse(out.getvalue())
    assert report["complete"] and report["header"]["kernels"] == "reference"
    assert len(report["layers"]) == 7 and report["steps"][0]["name"] == "fqt"
    assert report["memory"]["fqt"]["heap_used"] == -1  # no gc.mem_alloc on CPython


def test_bench_line_parsing():
    words, fields = bench.parse_line("step hybrid-mix error=MemoryError: memory allocation failed")
    assert words == ["step", "hybrid-mix"] and fields == {"error": "MemoryError: memory allocation failed"}
    words, fields = bench.parse_line("bench kernels=qnn arch=2 board=linux [GCC 12.2.0] version")
    assert fields == {"kernels": "qnn", "arch": "2", "board": "linux [GCC 12.2.0] version"}
    assert bench.parse("MemoryError\n") is None


class FakeSerial:
    """mpremote's SerialTransport, with exec_raw running the code on the virtual board."""

    calls = []

    def __init__(self, port, baudrate=115200):
        self.calls.append(("open", port))

    def enter_raw_repl(self, soft_reset=True):
        self.calls.append(("enter_raw_repl", soft_reset))

    def exec_raw(self, code, timeout=10):
        self.calls.append(("exec", code))
        with micropython_script(code) as proc:
            return proc.stdout, proc.stderr

    def exec(self, code):
        out, err = self.exec_raw(code)
        return out

    def exit_raw_repl(self):
        self.calls.append(("exit_raw_repl",))

    def close(self):
        self.calls.append(("close",))


@contextlib.contextmanager
def micropython_script(code):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "code.py"
        path.write_text(code)
        yield virtual.run_script(path, heap="256K")


def test_bench_on_a_serial_board_goes_through_the_raw_repl(monkeypatch):
    import mpremote.transport_serial

    FakeSerial.calls = []
    monkeypatch.setattr(mpremote.transport_serial, "SerialTransport", FakeSerial)
    code, out = run_command(bench, "--port", "/dev/ttyFAKE", "--model", str(TINY), "--method", "fqt",
                            "--repeat", "1", "--steps", "1")
    assert code == 0, out
    assert [c[0] for c in FakeSerial.calls] == ["open", "enter_raw_repl", "exec", "exit_raw_repl", "close"]
    assert "on /dev/ttyFAKE" in out and "fqt" in out


# boards


def test_boards_exits_0_on_this_machine():
    code, out = run_command(boards)
    assert code == 0
    assert "--port sim" in out or "MicroPython board? yes" in out


def test_boards_without_ports_points_at_the_virtual_board(monkeypatch):
    monkeypatch.setattr(boards, "comports", lambda: [])
    code, out = run_command(boards)
    assert code == 0 and "no serial ports" in out and "--port sim" in out


def test_boards_recognises_micropython_boards(monkeypatch):
    def port(device, vid, pid, description, manufacturer=None):
        return SimpleNamespace(device=device, vid=vid, pid=pid, description=description, manufacturer=manufacturer,
                               product=None)

    monkeypatch.setattr(boards, "comports", lambda: [
        port("/dev/ttyACM0", 0x2E8A, 0x0005, "Board in FS mode"),
        port("/dev/ttyACM1", 0x1234, 0x5678, "Pyboard Virtual Comm Port", "MicroPython"),
        port("/dev/ttyS0", None, None, "n/a"),
        port("/dev/ttyUSB0", 0x1A86, 0x7523, "USB Serial")])
    code, out = run_command(boards)
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("/dev/")}
    assert "2e8a:0005" in lines["/dev/ttyACM0"] and "yes" in lines["/dev/ttyACM0"] and "RP2040" in lines["/dev/ttyACM0"]
    assert "yes" in lines["/dev/ttyACM1"]
    assert "MicroPython" not in lines["/dev/ttyS0"]
    assert "maybe" in lines["/dev/ttyUSB0"]
    assert "2 port(s) look like MicroPython boards" in out and "--port /dev/ttyACM0" in out


# repl


def crafted_run(folder, steps=3):
    """A run folder as `mcutrain train` leaves it: metrics.jsonl with a live change and an end
    record holding the final settings, and the virtual board's checkpoint (saved here by the
    same Trainer on CPython)."""
    settings = {"method": "zo", "mode": "mix", "lr": 0.001, "queries": 2, "batch": 1, "schedule_name": "cosine",
                "total_steps": 100}
    m = device_model.load(str(TINY))
    t = Trainer(m, **settings)
    x = device_bench.pattern(m.input_size)
    for i in range(steps):
        t.step(x, bytes([i % 10]))
    checksum = array("i", [0x1234567])
    t.save(str(folder / "board.ckpt"), (checksum,))
    crc = "".join("%02x" % b for b in reversed(m.description.crc))
    records = [{"event": "step", "samples": 1, "steps": 1, "loss": 1.0},
               {"event": "set", "key": "lr", "value": 0.002, "samples": 1},
               {"event": "set", "key": "queries", "value": 500, "samples": 2, "error": "refused"},
               {"event": "end", "steps": steps, "samples": steps, "settings": dict(settings, lr=0.002),
                "board": {"model": crc}}]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return t


def repl_session(run_dir, commands):
    return subprocess.run([sys.executable, "-c", RUNNER, "repl", "--run", str(run_dir)], input=commands,
                          capture_output=True, text=True, timeout=60)


def test_repl_resumes_the_last_runs_trainer(tmp_path):
    t = crafted_run(tmp_path, steps=3)
    proc = repl_session(tmp_path, "print('steps', t.stats()['steps'], t.samples)\n"
                                  "print('lr', t.lr, t.queries, checksum[0])\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"steps {t.steps} {t.samples}" in proc.stdout
    assert "lr 0.002 2 19088743" in proc.stdout  # the settings as the run ended
    banner = proc.stdout.splitlines()[0]
    assert banner.startswith("mcutrain repl: m = ") and "t = Trainer(m, method='zo'" in banner
    assert "resumed from" in banner and "warning" not in proc.stdout


def test_repl_after_a_finished_run_steps_at_the_runs_lr(tmp_path):
    """A finished run's cosine schedule ends at 0: the REPL's `t` would return the same loss for ever."""
    crafted_run(tmp_path, steps=100)  # its total_steps
    proc = repl_session(tmp_path, "x = bytes(m.input_size)\n"
                                  "print('before', t.stats()['lr_factor'])\n"
                                  "w = bytes(m.layers[6].weight)\n"
                                  "for i in range(3): t.step(x, b'\\x01')\n\n"
                                  "print('changed', bytes(m.layers[6].weight) != w)\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "its 100-step schedule had ended, so t steps at lr=0.002" in proc.stdout.splitlines()[0]
    assert "before 1.0" in proc.stdout and "changed True" in proc.stdout, proc.stdout


def test_repl_without_a_checkpoint_says_so(tmp_path):
    crafted_run(tmp_path)
    for slot in tmp_path.glob("board.ckpt.*"):
        slot.unlink()
    proc = repl_session(tmp_path, "print('steps', t.steps)\n")
    assert proc.returncode == 0
    assert "NOT resumed" in proc.stdout and "steps 0" in proc.stdout


def test_repl_finds_the_newest_run_with_settings_passing_over_failed_ones(tmp_path):
    (tmp_path / "old").mkdir()
    crafted_run(tmp_path / "old")
    (tmp_path / "failed").mkdir()  # a command that failed before its first record, or wrote no start record
    (tmp_path / "failed" / "metrics.jsonl").write_text('{"event": "step", "samples": 1}\n')
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "metrics.jsonl").write_text("")
    assert run_folder.latest_run(tmp_path) == tmp_path / "old"
    with pytest.raises(run_folder.RunError, match="no start or end record"):
        run_folder.run_settings(tmp_path / "failed")
    with pytest.raises(run_folder.RunError, match="no finished or interrupted run under"):
        run_folder.latest_run(tmp_path / "none")
    settings, model, crc = run_folder.run_settings(tmp_path / "old")
    assert settings["lr"] == 0.002 and settings["queries"] == 2 and settings["method"] == "zo"
    (tmp_path / "interrupted").mkdir()  # started, one live change accepted, one refused, no end record
    (tmp_path / "interrupted" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (
        {"event": "start", "settings": {"method": "zo", "lr": 0.001, "queries": 2}, "arguments": {"model": "m.mcut"}},
        {"event": "set", "key": "lr", "value": 0.004, "samples": 5},
        {"event": "set", "key": "queries", "value": 500, "samples": 6, "error": "refused"})))
    assert run_folder.latest_run(tmp_path) == tmp_path / "interrupted"
    assert run_folder.run_settings(tmp_path / "interrupted") == ({"method": "zo", "lr": 0.004, "queries": 2}, "m.mcut", None)


def test_repl_on_a_serial_board_sets_up_then_hands_over_to_mpremote(monkeypatch, tmp_path):
    import mpremote.transport_serial

    crafted_run(tmp_path)
    calls = []

    class Board(FakeSerial):
        def exec_raw(self, code, timeout=10):
            self.calls.append(("exec", code))
            if code == deploy.FIND_MODEL.format(paths=deploy.BOARD_MODELS):
                return b"/rom/model.mcut\r\n", b""  # deployed with --romfs
            return b"mcutrain repl: m = ...\r\n", b""

    Board.calls = calls
    monkeypatch.setattr(mpremote.transport_serial, "SerialTransport", Board)
    monkeypatch.setattr(repl.subprocess, "call", lambda command: calls.append(("call", command)) or 0)
    code, out = run_command(repl, "--port", "/dev/ttyFAKE", "--run", str(tmp_path))
    assert code == 0
    assert [c[0] for c in calls] == ["open", "enter_raw_repl", "exec", "exec", "exit_raw_repl", "close", "call"]
    startup = calls[3][1]
    assert "'/rom/model.mcut'" in startup and "'/mcutrain.ckpt'" in startup and "t.resume(" in startup
    assert calls[-1][1][-4:] == ["connect", "/dev/ttyFAKE", "resume", "repl"]
    assert "mcutrain repl: m = ..." in out
