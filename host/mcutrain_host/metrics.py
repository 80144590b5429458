"""Metrics of a run: every record as a JSON line, and the same records as CSV rows."""

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
        self._jsonl = open(self.jsonl_path, "w")
        self._csv_file = open(self.csv_path, "w", newline="")
        self._csv = csv.DictWriter(self._csv_file, COLUMNS, extrasaction="ignore")
        self._csv.writeheader()
        self.written = 0

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
