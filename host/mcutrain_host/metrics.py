"""Metrics of a run: every record as a JSON line, and the same records as CSV rows. The files are
only ever appended to, so a run continued by `mcutrain train --resume` keeps what it had."""

import csv
import json
from pathlib import Path

COLUMNS = ("event", "t", "samples", "steps", "loss", "accuracy", "correct", "total", "key", "value", "error",
           "reason")


class Metrics:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.jsonl_path = self.folder / "metrics.jsonl"
        self.csv_path = self.folder / "metrics.csv"
        self._jsonl = open(self.jsonl_path, "a")
        self._csv_file = open(self.csv_path, "a", newline="")
        self._csv = csv.DictWriter(self._csv_file, COLUMNS, extrasaction="ignore")
        if not self._csv_file.tell():
            self._csv.writeheader()
        self.written = 0  # records written by this process

    def __call__(self, record):
        self.written += 1
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
        self._csv.writerow(record)
        self._csv_file.flush()

    def close(self):
        self._jsonl.close()
        self._csv_file.close()


def load(path):
    """The records of a metrics.jsonl."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def settings_at_end(records):
    """The settings the board's trainer had at a run's last record: the end record's, which hold
    the settings changed live; for an interrupted run, the start record's with the live changes the
    board accepted. None for records that tell neither (no start or end record)."""
    ends = [r for r in records if r.get("event") == "end"]
    if ends:
        return dict(ends[-1].get("settings") or {})
    starts = [r for r in records if r.get("event") == "start"]
    if not starts:
        return None
    settings = dict(starts[-1]["settings"])
    settings.update((r["key"], r["value"]) for r in records if r.get("event") == "set" and "error" not in r)
    return settings
