"""Run folders and runs that survive trouble, through the CLI as a user runs it: a board reset in
the middle of `mcutrain train` still ends in its summary and curves; Ctrl-C is one line, and
`--resume` continues the run to the checksum of an uninterrupted one; two runs started in the
same second get folders of their own; a failed command leaves no empty run; plotting an empty run
is an error message, not a crash."""

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mcutrain_host import cli
from mcutrain_host.board.micropython import REPO
from mcutrain_host.board.session import expected_checksum
from mcutrain_host.commands import train
from mcutrain_host.commands.train import new_run_folder
from mcutrain_host.progress import Progress
from test_datasets import write_cifar


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """The folder runs go to without --out: this test's own, as other runs may start in runs/ meanwhile."""
    monkeypatch.setattr(train, "RUNS", tmp_path / "runs")
    train.RUNS.mkdir()
    return train.RUNS


def board_processes(folder):
    """The virtual board's process ids: the unix port serving from this run's flash folder (its
    working directory)."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if pid.isdigit() and b"micropython" in cmdline and cwd == str(Path(folder).resolve() / "flash"):
            found.append(int(pid))
    return found


def test_a_board_reset_mid_train_still_ends_in_the_summary_and_curves(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "mcutrain_host.cli", "train", "--port", "sim", "--samples", "300",
                             "--test", "50", "--eval-every", "100", "--checkpoint-every", "10", "--out", str(out)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = []

    def kill_the_board_at_step_150():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                steps = (out / "metrics.jsonl").read_text().count('"event": "step"')
            except OSError:
                steps = 0
            if steps >= 150:
                for pid in board_processes(out):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_board_at_step_150)
    killer.start()
    stdout, stderr = proc.communicate(timeout=600)
    killer.join()
    assert killed, "the board was never killed"
    assert proc.returncode == 0, stdout + stderr
    assert "accuracy after adaptation:" in stdout and "reconnects 1" in stdout, stdout
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["event"] for r in records].count("reconnect") == 1
    assert records[-1]["checksum"] == records[-1]["expected_checksum"]
    assert (out / "curves.png").stat().st_size > 0
    assert cli.main(["plot", str(out), "-o", str(tmp_path / "again.png")]) == 0


def test_runs_started_in_the_same_second_get_folders_of_their_own(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda fmt: "20261205-120000")
    folders = [new_run_folder(tmp_path) for _ in range(3)]
    assert len(set(folders)) == 3 and all(f.is_dir() for f in folders)
    assert [f.name for f in folders] == ["20261205-120000", "20261205-120000-2", "20261205-120000-3"]


def test_plotting_a_run_without_steps_says_so(tmp_path, capsys):
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"event": "end", "settings": {}}) + "\n")
    assert cli.main(["plot", str(tmp_path)]) == 1
    assert "no eval or step records to plot" in capsys.readouterr().err


def test_a_dataset_of_another_size_is_refused_before_anything_is_streamed(tmp_path, capsys, runs):
    cifar = tmp_path / "cifar"
    write_cifar(cifar, np.random.default_rng(0))
    assert cli.main(["train", "--port", "sim", "--dataset", "cifar10", "--data-dir", str(cifar), "--samples", "4",
                     "--test", "4"]) == 2
    assert "the model takes 28x28x1 images, the dataset's are 32x32x3" in capsys.readouterr().err
    assert not any(runs.iterdir())  # no empty run left behind
    assert cli.main(["eval", str(REPO / "models" / "tiny-float.npz"), "--dataset", "cifar10", "--data-dir", str(cifar)]) == 2
    assert cli.main(["eval", str(REPO / "models" / "tiny.mcut"), "--dataset", "cifar10", "--data-dir", str(cifar)]) == 2


def test_trimmed_samples_are_announced(tmp_path, capsys):
    assert cli.main(["train", "--port", "sim", "--samples", "10", "--batch", "3", "--test", "4",
                     "--out", str(tmp_path / "run")]) == 0
    assert "warning: 10 samples are not whole batches of 3: the run applies 9" in capsys.readouterr().err


def test_a_board_that_cannot_be_reached_is_one_line_and_leaves_no_run(capsys, runs):
    assert cli.main(["train", "--port", "/dev/ttyNOPE", "--samples", "4", "--test", "4"]) == 1
    err = capsys.readouterr().err
    assert "/dev/ttyNOPE" in err and "mcutrain boards" in err and "Traceback" not in err
    assert not any(runs.iterdir())


def test_damaged_files_are_one_line_and_exit_code_1(tmp_path, capsys):
    garbage, no_meta, truncated = tmp_path / "garbage.npz", tmp_path / "no_meta.npz", tmp_path / "truncated.mcut"
    garbage.write_bytes(bytes(range(200)))
    np.savez(no_meta, weights=np.zeros(3))
    truncated.write_bytes((REPO / "models" / "tiny.mcut").read_bytes()[:5000])
    for argv in (["quantize", str(garbage), "-o", str(tmp_path / "x.mcut")],
                 ["quantize", str(no_meta), "-o", str(tmp_path / "x.mcut")],
                 ["eval", str(no_meta)],
                 ["deploy", "--port", "sim", "--model", str(truncated)]):
        assert cli.main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.startswith(f"mcutrain {argv[0]}: ") and len(err.strip().splitlines()) == 1, err


def test_an_unknown_emulated_board_is_bad_usage(capsys):
    with pytest.raises(SystemExit) as exit_code:
        cli.main(["train", "--port", "qemu-m9"])
    assert exit_code.value.code == 2
    assert "qemu-m9 is no emulated board; those are qemu-m0" in capsys.readouterr().err


def test_an_earlier_run_is_never_overwritten(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_text('{"event": "step"}\n')
    assert cli.main(["train", "--port", "sim", "--samples", "4", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "holds a run already" in err and f"mcutrain train --resume {tmp_path / 'run'}" in err
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == '{"event": "step"}\n'


def ctrl_c_when(proc, ready, timeout=300):
    """Ctrl-C as a terminal sends it, to the command's whole process group (its boards and workers
    too), once ready() holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and not ready():
        time.sleep(0.05)
    assert proc.poll() is None, "the command ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    return proc.communicate(timeout=120)


def step_records(out):
    try:
        return (out / "metrics.jsonl").read_text().count('"event": "step"')
    except OSError:
        return 0


def test_an_interrupted_run_resumes_where_it_stopped_and_ends_as_an_uninterrupted_one(tmp_path, capsys):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "mcutrain_host.cli", "train", "--port", "sim", "--samples", "300",
                             "--test", "20", "--eval-every", "100", "--checkpoint-every", "10", "--set", "sigma=2",
                             "--out", str(out)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    stdout, stderr = ctrl_c_when(proc, lambda: step_records(out) >= 125)
    assert proc.returncode == 130, stdout + stderr
    assert stderr.splitlines()[-1] == f"mcutrain train: interrupted; `mcutrain train --resume {out}` continues the run"
    assert "Traceback" not in stderr, stderr
    interrupted = (out / "metrics.jsonl").read_text()
    csv_before = (out / "metrics.csv").read_text()
    assert '"event": "end"' not in interrupted and step_records(out) < 300

    assert cli.main(["train", "--out", str(out)]) == 2  # never over an earlier run
    assert f"`mcutrain train --resume {out}`" in capsys.readouterr().err
    assert cli.main(["train", "--resume", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "samples applied: 300 in 300 steps" in shown and "(expected " in shown
    text = (out / "metrics.jsonl").read_text()
    assert text.startswith(interrupted)  # the interrupted run's lines, kept
    assert (out / "metrics.csv").read_text().startswith(csv_before)
    assert (out / "metrics.csv").read_text().count("event,t,samples") == 1
    records = [json.loads(line) for line in text.splitlines()]
    resumed = [r for r in records if r["event"] == "resume"]
    assert len(resumed) == 1 and resumed[0]["resumed_at"] % 10 == 0 and resumed[0]["resumed_at"] >= 120
    end = records[-1]
    assert end["event"] == "end" and end["checksum"] == end["expected_checksum"] == "%08x" % expected_checksum(300)
    assert end["settings"]["sigma"] == 2 and end["samples"] == 300  # the run's own settings, taken up again
    assert end["accuracy_before"] == records[1]["accuracy"]  # its first evaluation, before the interruption
    assert (out / "curves.png").stat().st_size > 0

    assert cli.main(["train", "--resume", str(out)]) == 2  # finished: nothing to resume
    assert "has finished" in capsys.readouterr().err


def test_resume_is_an_option_not_a_setting(tmp_path, capsys):
    assert cli.main(["train", "--samples", "4", "--test", "4", "--set", "resume=1", "--out", str(tmp_path / "run")]) == 2
    assert "mcutrain train --resume RUN" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_failed_command_removes_the_folder_it_made_and_only_that(tmp_path, capsys):
    made = tmp_path / "new" / "run"
    assert cli.main(["train", "--port", "/dev/ttyNOPE", "--samples", "4", "--test", "4", "--out", str(made)]) == 1
    assert not made.exists()
    given = tmp_path / "given"
    given.mkdir()
    assert cli.main(["train", "--port", "/dev/ttyNOPE", "--samples", "4", "--test", "4", "--out", str(given)]) == 1
    assert given.is_dir()  # the user's folder, not this command's to remove


def test_an_interrupted_study_says_so_in_one_line(tmp_path):
    out = tmp_path / "study"
    proc = subprocess.Popen([sys.executable, "-m", "mcutrain_host.cli", "experiment", "--config",
                             str(REPO / "experiments" / "ci.toml"), "--workers", "2", "--out", str(out)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    results = out / "results.jsonl"
    stdout, stderr = ctrl_c_when(proc, lambda: results.is_file() and results.read_text().count("\n") >= 2)  # workers busy
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr, stderr
    assert "mcutrain experiment: interrupted;" in stderr.splitlines()[-1]


def test_figures_on_screen_say_what_they_are(tmp_path, capsys):
    assert cli.main(["eval", str(REPO / "models" / "tiny.mcut"), "--corruption", "fog", "--count", "20"]) == 0
    assert "fashion-mnist test, fog severity 5: " in capsys.readouterr().out
    assert cli.main(["deploy", "--port", "sim", "--heap", "256K"]) == 0
    out = capsys.readouterr().out
    assert "before the server started" in out and "the server, started, says: " in out
    bar = Progress(10, "adapting", io.StringIO())
    bar.set(5, loss=1.90601, **{"acc%": 63.1})
    assert "loss 1.906 acc% 63.1 " in bar.line()
