"""`mcutrain experiment`: the reduced study CI runs (experiments/ci.toml) chooses each method's
rate on the validation images, completes with every method on test images, writes the report,
the CSV and the plots; an interrupted study resumes and redoes exactly the missing cells, with
the same results; a study with other settings is refused in the same folder. Adaptation,
validation and test images are disjoint."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mcutrain_host.experiment import cell, report, runner, study
from mcutrain_host.experiment.methods import METHODS
from mcutrain_host.optim import standardized

REPO = Path(__file__).resolve().parents[1]
CI_STUDY = REPO / "experiments" / "ci.toml"


def experiment(*args):
    return subprocess.run([sys.executable, "-m", "mcutrain_host.cli", "experiment", "--config", str(CI_STUDY),
                           "--workers", "2", *args], capture_output=True, text=True, timeout=900)


def records(out):
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def table_records(out):
    return [r for r in records(out) if not r["key"].startswith("tune/")]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    proc = experiment("--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc


def test_the_reduced_study_runs_every_method_at_the_rate_validation_chose_and_reports(finished):
    out, proc = finished
    done = table_records(out)
    assert sorted(r["key"] for r in done) == sorted(
        f"tiny/{c}/{m}/0" for c in ("fog", "contrast", "none") for m in METHODS)
    tuned = [r for r in records(out) if r["key"].startswith("tune/")]
    learning = [m for m in METHODS if METHODS[m].lr]
    assert sorted(r["key"] for r in tuned) == sorted(f"tune/tiny/fog/{m}/0/{rate:g}" for m in learning
                                                     for rate in (0.01, 0.1))
    assert {r["evaluated_on"] for r in tuned} == {"validation"} and {r["evaluated_on"] for r in done} == {"test"}
    for m in learning:
        by_rate = {r["lr"]: r["accuracy_after"] for r in tuned if r["method"] == m}
        best = max(sorted(by_rate), key=by_rate.get)
        assert {r["lr"] for r in done if r["method"] == m} == {best}, m
    for r in done:
        assert 0 <= r["accuracy_before"] <= 1 and 0 <= r["accuracy_after"] <= 1
        if r["method"] != "int8":
            assert r["steps"] == 2 and [seen for seen, _ in r["curve"]] == [0, 10, 20], r
    int8 = {r["corruption"]: r["accuracy_before"] for r in done if r["method"] == "int8"}
    for r in done:
        if METHODS[r["method"]].family != "float":
            assert r["accuracy_before"] == int8[r["corruption"]]  # one model, one held-out draw
    # ZO queries re-run the network: more forward passes than FQT's one.
    forwards = {r["method"]: r["forwards_per_step"] for r in done if r["corruption"] == "fog" and r["method"] != "int8"}
    assert forwards["fqt"] == 1 and forwards["zo-wp"] > 5
    text = (out / "results.md").read_text()
    assert "mcutrain experiment --config" in text and "## tiny" in text
    for method in METHODS:
        assert f"| {method} |" in text
    assert "of float-bp-all's" in proc.stdout and "Learning rates, chosen on the validation images" in text
    assert "| clean (none) |" in text and "| **worst gain without the guard** |" in text
    assert "The guard (docs/algorithms.md, section 4) adds the same to every method" in text
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 3 * len(METHODS)
    costs = json.loads((out / "costs.json").read_text())["tiny"]
    assert costs["fqt"]["planned"] > costs["int8"]["planned"] == costs["int8"]["inference"]
    assert costs["zo-wp"]["heap"] > 0 and costs["zo-wp"]["us"] > 0
    # CI has QEMU: a step's instructions on the emulated Cortex-M0, ZO's many forwards above FQT's one,
    # and the heap a 32-bit board holds, below the 64-bit virtual board's.
    on_arm = {m: costs[m]["qemu-m0"] for m in ("zo-wp", "fqt")}
    assert on_arm["zo-wp"]["instructions"] > on_arm["fqt"]["instructions"] > 1e6
    assert 0 < on_arm["zo-wp"]["heap"] < costs["zo-wp"]["heap"]
    # Each plan's bytes and instructions: node perturbation's lean plan holds less and re-runs more.
    fast, lean = (costs["zo-np"]["plans"][plan] for plan in ("fast", "lean"))
    assert lean["planned"] < fast["planned"] and lean["qemu-m0"]["instructions"] > fast["qemu-m0"]["instructions"]
    assert f"| {fast['planned']} / {lean['planned']} |" in text
    for name in ("results-tiny-accuracy.png", "results-tiny-curves.png"):
        assert Image.open(out / name).size[0] > 300


def test_an_interrupted_study_resumes_with_the_same_results(finished, tmp_path):
    out, _ = finished
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    for name in ("study.json", "sessions.jsonl"):
        (resumed / name).write_text((out / name).read_text())
    lines = (out / "results.jsonl").read_text().splitlines()
    kept = [line for line in lines if '"zo-np"' not in line and '"fqt-10"' not in line]
    # A kill in the middle of a write leaves half a line: it is not a finished cell.
    (resumed / "results.jsonl").write_text("\n".join(kept) + "\n" + lines[-1][:25])
    # The run that left them was killed outright: its last session.json is all that says its time.
    (resumed / "session.json").write_text(json.dumps({"command": "experiment (killed)", "models": ["tiny"], "cells": 3, "seconds": 9.5,
                                                      "workers": 2, "cpus": 2, "python": "3"}))
    proc = experiment("--out", str(resumed))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sessions = [json.loads(line) for line in (resumed / "sessions.jsonl").read_text().splitlines()]
    assert sessions[-2]["command"] == "experiment (killed)" and not (resumed / "session.json").exists()
    assert sessions[-1]["cells"] == len(lines) - len(kept) == 10  # 2 tuning and 3 table cells of each
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert sessions[-1]["commit"].rstrip("+") == head  # cells made across sessions say by which code
    again = {r["key"]: r for r in records(resumed) if r}
    for r in records(out):
        for field in ("accuracy_before", "accuracy_after", "curve", "layers"):
            assert again[r["key"]].get(field) == r.get(field), (r["key"], field)


def test_other_settings_in_the_same_folder_are_refused(finished):
    out, _ = finished
    proc = experiment("--out", str(out), "--batch", "5")
    assert proc.returncode == 2
    assert "other batch" in proc.stderr
    proc = experiment("--out", str(out), "--lr", "tiny/fqt=0.5")
    assert proc.returncode == 2
    chosen = next(r["lr"] for r in table_records(out) if r["key"] == "tiny/fog/fqt/0")
    assert f"tiny/fog/fqt/0 ran at lr {chosen}, this study says 0.5" in proc.stderr
    # Another model's rate changes none of these cells.
    assert experiment("--out", str(out), "--lr", "small/fqt=0.5").returncode == 0


def test_a_folder_in_use_by_a_live_run_is_refused_and_a_dead_runs_lock_taken_over(finished):
    out, _ = finished
    (out / "lock").write_text(str(os.getppid()))  # a live process: the one that started pytest
    proc = experiment("--out", str(out))
    assert proc.returncode == 2 and f"in use by process {os.getppid()}" in proc.stderr
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / "lock").write_text(dead.stdout.strip())
    assert experiment("--out", str(out)).returncode == 0
    assert not (out / "lock").exists()


def test_bad_settings_are_refused_with_the_known_names():
    with pytest.raises(ValueError, match="unknown corruptions: smoke"):
        study.make({"corruptions": "fog,smoke"})
    with pytest.raises(ValueError, match="batch must be a positive int"):
        study.make({"batch": "0"})
    with pytest.raises(ValueError, match="unknown study setting 'rate'"):
        study.make({"rate": 0.1})
    with pytest.raises(ValueError, match="'int8' is not a method that learns"):
        study.make({"lr": "int8=0.1"})
    with pytest.raises(ValueError, match="zo-wp needs a positive rate"):
        study.make({"lr": {"zo-wp": "fast"}})
    with pytest.raises(ValueError, match="rates: positive learning rates"):
        study.make({"rates": "0,0.1"})
    with pytest.raises(ValueError, match="unknown tune_corruptions: smoke"):
        study.make({"tune_corruptions": ["smoke"]})


def test_learning_rates_default_per_method_and_can_be_set_per_model():
    s = study.make({"models": "tiny", "lr": "zo-wp=0.3,fqt=0.003,small/fqt=0.001"})
    assert s.learning_rate("tiny", "zo-wp") == 0.3 and s.learning_rate("tiny", "fqt") == 0.003
    assert s.learning_rate("small", "fqt") == 0.001 and s.learning_rate("small", "zo-wp") == 0.3
    assert s.learning_rate("tiny", "zo-np") == METHODS["zo-np"].lr > 0
    assert study.make({"models": "tiny", "lr": {"fqt": 0.003, "zo-wp": 0.3, "small/fqt": 0.001}}) == s
    with pytest.raises(ValueError, match="'zo' is not a method that learns"):
        study.make({"lr": "small/zo=0.1"})


def test_every_method_sees_the_same_samples_in_the_same_order():
    s = study.make({"models": "tiny", "samples": 25, "batch": 10, "epochs": 2, "eval_every": 20})
    steps, order, evals = cell.schedule(s, 25)
    assert steps == 5 and order[2] == [20, 21, 22, 23, 24, 0, 1, 2, 3, 4]
    assert evals == {20, 40, 50}


def test_standardized_gradients_have_zero_mean_and_unit_spread_per_channel():
    g = np.random.default_rng(0).normal(size=(3, 3, 4)).astype(np.float32)  # depthwise: channels last
    g[..., 1] = 7  # no spread: no step
    out = standardized(g, 2)
    for c in (0, 2, 3):
        assert abs(out[..., c].mean()) < 1e-5 and abs(out[..., c].std() - 1) < 1e-4
    assert not out[..., 1].any()


def test_a_report_of_an_unfinished_study_says_so(finished, tmp_path):
    out, _ = finished
    half = table_records(out)[::2]
    s = study.make(study.load(CI_STUDY))
    report.write(tmp_path / "partial.md", s, half, {}, runner.sessions(out))
    text = (tmp_path / "partial.md").read_text()
    assert f"Incomplete: {len(half)} of {3 * len(METHODS)} cells so far" in text


def test_the_guard_gives_back_the_state_it_kept(finished):
    """A cell whose guard kept the state before the first step ends exactly where it started;
    one that kept a later state ends where the run was at that step, wherever the run ended."""
    out, _ = finished
    batch = study.make(study.load(CI_STUDY)).batch
    learned = [r for r in table_records(out) if METHODS[r["method"]].lr]
    assert learned and all("kept_step" in r and "accuracy_unguarded" in r for r in learned)
    for r in learned:
        at = dict(r["curve"])[r["kept_step"] * batch]  # the guard checks where the curve is measured
        assert r["accuracy_after"] == at, r["key"]
    assert any(r["kept_step"] for r in learned), "no later state kept: the test shows only the start restored"


def test_adaptation_guard_validation_and_test_images_are_disjoint():
    """The adaptation and guard samples of every seed come from the held-out split after its
    validation images, and no guard image is trained on; the test images come from the test split
    (rates are chosen on images the report never shows, and no image trained the model)."""
    from mcutrain_host import datasets

    s = study.make(study.load(CI_STUDY))
    heldout, _ = datasets.load(s.dataset, "heldout")
    position = {}
    for i, image in enumerate(heldout):
        position.setdefault(image.tobytes(), []).append(i)
    for seed in range(3):
        train_x, _, guard_x, _, valid_x, _ = cell.images(s, "none", seed, True)
        assert len(train_x) == s.samples and len(guard_x) == s.guard
        assert all(max(position[x.tobytes()]) >= s.validation for x in [*train_x, *guard_x])
        assert all(min(position[x.tobytes()]) < s.validation for x in valid_x)
        trained = {x.tobytes() for x in train_x}
        assert not any(x.tobytes() in trained for x in guard_x)
    *_, test_x, _ = cell.images(s, "none", 0, False)
    test_images, _ = datasets.load(s.dataset, "test")
    tests = {x.tobytes() for x in test_images}
    assert len(test_x) == s.test and all(x.tobytes() in tests for x in test_x)
