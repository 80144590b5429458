"""A training run's folder (`mcutrain train --out`): which run is the latest, and the settings,
model and model CRC its metrics record; `mcutrain repl` and `mcutrain pull` rebuild its trainer."""

from pathlib import Path

from mcutrain.trainer import SETTINGS
from mcutrain_host import metrics
from mcutrain_host.board import micropython

RUNS = micropython.REPO / "runs"
# The Trainer keywords a run's settings may hold (the link's checkpoint_every, resume are not).
TRAINER_KEYS = SETTINGS + ("method", "seed")


class RunError(Exception):
    """No usable run; the message says what to do."""


def latest_run(root=RUNS):
    """The newest run folder under root whose metrics tell its settings: a finished or an
    interrupted run, not the folder of a command that failed before its first record."""
    candidates = [m for m in Path(root).glob("*/metrics.jsonl")] if Path(root).is_dir() else []
    for path in sorted(candidates, key=lambda m: m.stat().st_mtime, reverse=True):
        try:
            run_settings(path.parent)
        except (RunError, ValueError):  # no start or end record, or a damaged line
            continue
        return path.parent
    raise RunError(f"no finished or interrupted run under {root}: run `mcutrain train` first, or pass --run DIR")


def run_settings(run_dir):
    """(Trainer keyword arguments, model file, model CRC or None) of a run: the settings its board's
    trainer had at the end (with the settings changed live), or where an interrupted run stopped."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        raise RunError(f"{path} is missing: is {run_dir} a run folder of `mcutrain train`?")
    records = metrics.load(path)
    settings = metrics.settings_at_end(records)
    if settings is None:
        raise RunError(f"{path} has no start or end record (the run failed before it began), so its settings "
                       f"are unknown")
    ends = [r for r in records if r.get("event") == "end"]
    if ends:
        model, crc = ends[-1].get("model"), (ends[-1].get("board") or {}).get("model")
    else:  # the board's HELLO, with the model's CRC, is in the end record only
        model, crc = [r for r in records if r.get("event") == "start"][-1]["arguments"].get("model"), None
    return {k: v for k, v in settings.items() if k in TRAINER_KEYS}, model, crc
