"""Runs a study's cells on a process pool: first the tuning cells (tuning.py), then the table's
cells at the rates they chose. Each finished cell is a line of OUT/results.jsonl at once, so an
interrupted study resumes where it stopped: the same command skips the cells there.

OUT/study.json holds the study; resuming with different settings is refused, since cells run
under other settings would not belong in one table. OUT/sessions.jsonl records each run of the
command (its command line, cells run, seconds), so a resumed study reports its whole time; a run
rewrites OUT/session.json after every cell, so one that was killed outright (no Ctrl-C) is still
counted, by the next run, up to its last cell. OUT/lock keeps a second run out of a folder while
one is running.
"""

import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

from mcutrain_host.board.micropython import REPO
from mcutrain_host.experiment import cell, tuning
from mcutrain_host.progress import Progress


class StudyMismatch(Exception):
    """OUT holds results of a study with other settings."""


def cells(study):
    """(model, corruption, method, seed) of every cell: grouped by samples, so a worker draws a
    corruption's images once for the methods that share them."""
    return [(model, corruption, method, seed) for model in study.models for corruption in study.corruptions
            for seed in range(study.seeds) for method in study.methods]


def results(out):
    """{key: record} of the cells finished in OUT (a line cut short by a kill is left out)."""
    done = {}
    path = Path(out) / "results.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[record["key"]] = record
    return done


def drop_partial_line(path):
    """Cuts a last line a kill left unfinished, so that appending starts on a line of its own."""
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            path.write_bytes(data[:data.rfind(b"\n") + 1])


def claim(out):
    """Makes this process the only run in OUT (OUT/lock holds its pid); refuses while another
    live process holds it. A lock left by a killed run is taken over."""
    lock = Path(out) / "lock"
    if lock.exists():
        try:
            pid = int(lock.read_text())
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            pass  # left by a run that was killed
        except PermissionError:
            raise StudyMismatch(f"{out} is in use by process {pid}") from None
        else:
            if pid != os.getpid():
                raise StudyMismatch(f"{out} is in use by process {pid}: wait for it, or stop it (Ctrl-C)")
    lock.write_text(str(os.getpid()))


def close_killed_session(out):
    """Moves the record of a run killed before it could close its session into sessions.jsonl."""
    left = Path(out) / "session.json"
    if left.exists():
        with open(Path(out) / "sessions.jsonl", "a") as f:
            f.write(left.read_text().strip() + "\n")
        left.unlink()


def sessions(out):
    path = Path(out) / "sessions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def check_study(study, out):
    """Refuses to go on in OUT with settings that would change how its cells ran: the models,
    corruptions, methods and seeds may change, and the rates (see check_rates)."""
    path = Path(out) / "study.json"
    settings = dataclasses.asdict(study)
    if path.exists():
        before = json.loads(path.read_text())
        changed = [k for k in settings if k not in ("models", "corruptions", "methods", "seeds", "lr", "rates",
                                                     "tune_corruptions", "tuned")
                   and before.get(k) != json.loads(json.dumps(settings[k]))]
        if changed:
            raise StudyMismatch(f"{out} holds a study run with other {', '.join(changed)} "
                                f"({', '.join(f'{k}={before.get(k)}' for k in changed)}); use another --out")
    path.write_text(json.dumps(settings, indent=1) + "\n")


def check_rates(study, out, done):
    """Refuses to go on where a cell of the table ran at another rate than the (tuned) study's."""
    for model, corruption, method, seed in cells(study):
        record = done.get(cell.key(model, corruption, method, seed))
        if record is not None and record.get("lr") != study.learning_rate(model, method):
            raise StudyMismatch(f"{out}: {record['key']} ran at lr {record.get('lr')}, this study says "
                                f"{study.learning_rate(model, method)}; use another --out")


def run(study, out, workers, command_line):
    """Runs the cells not yet in OUT; returns the study with its tuned rates. Ctrl-C stops after
    saving what is done."""
    Path(out).mkdir(parents=True, exist_ok=True)
    claim(out)
    try:
        return _run(study, out, workers, command_line)
    finally:
        (Path(out) / "lock").unlink(missing_ok=True)


def _run(study, out, workers, command_line):
    check_study(study, out)
    close_killed_session(out)
    start, finished = time.monotonic(), [0]
    drop_partial_line(Path(out) / "results.jsonl")

    commit = source_commit()

    def session():
        return {"command": command_line, "commit": commit, "models": list(study.models), "cells": finished[0],
                "seconds": round(time.monotonic() - start, 1), "workers": workers, "cpus": os.cpu_count(),
                "python": sys.version.split()[0]}

    try:
        run_cells(study, tuning.cells(study), "tuning cells", out, workers, session, finished)
        done = results(out)
        study = tuning.with_rates(study, done)
        check_rates(study, out, done)
        run_cells(study, cells(study), "cells", out, workers, session, finished)
    finally:
        with open(Path(out) / "sessions.jsonl", "a") as f:
            f.write(json.dumps(session()) + "\n")
        (Path(out) / "session.json").unlink(missing_ok=True)
    return study


def source_commit():
    """The commit the cells ran at ("+" if the tree had changes), or None outside a git checkout:
    a study's cells may come from several sessions, each at its own commit."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+" if changed else "")


def run_cells(study, every, what, out, workers, session, finished):
    """Runs those of the cells `every` not yet in OUT; counts them in finished[0]."""
    done = results(out)
    todo = [c for c in every if cell.key(*c) not in done]
    if not todo:
        return
    before = len(every) - len(todo)
    bar = Progress(len(todo), f"{what} ({before} done before)" if before else what)
    context = multiprocessing.get_context("fork")
    try:
        with open(Path(out) / "results.jsonl", "a") as log, concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=context) as pool:
            futures = [pool.submit(cell.run, study, *c) for c in todo]
            try:
                for future in concurrent.futures.as_completed(futures):
                    log.write(json.dumps(future.result()) + "\n")
                    log.flush()
                    finished[0] += 1
                    (Path(out) / "session.json").write_text(json.dumps(session()))
                    bar.update(1)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    finally:
        bar.close()
