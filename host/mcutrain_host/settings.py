"""Trainer settings on the host. They are read by the board's own parser (serve.parse_settings)
and checked by the board's own Trainer, so the host reads --set, --layers, --config files and
lines typed during a run as the board does, and refuses what the board would refuse before
anything starts: one line, exit code 2, rather than a board's traceback."""

import argparse
from pathlib import Path

from mcutrain import serve
from mcutrain.trainer import Trainer


# What `--method NAME` trains by where no flag, --config line or --set says otherwise. ZO: node
# perturbation of the last two weighted layers, 30 queries, FQT's standardized updates, the
# study's best ZO method over both models: 86% of the bound's gain on tiny, 82% on small
# (docs/results.md; without standardized updates, 91% on tiny but 66% on small). Each rate is the best of a grid on
# held-out images at one sample per step, `mcutrain demo --split heldout` (docs/training.md).
METHOD_DEFAULTS = {
    "zo": {"mode": "np", "layers": [-2, -1], "queries": 30, "standardize": True, "lr": 0.003},
    "fqt": {"lr": 0.003},
    "hybrid": {"mode": "mix", "lr": 0.003},
}


class SettingsError(ValueError):
    """A setting the board would refuse (bad usage: exit code 2)."""


def parse(text, where=""):
    """'lr = 0.01; layers = 4/6' -> {'lr': 0.01, 'layers': [4, 6]}; `where` starts the error message."""
    try:
        return serve.parse_settings(text)
    except ValueError as e:
        raise SettingsError(f"{where}{e}") from None


def read_file(path):
    """A --config file: key = value lines, # comments; an error names the file and the line."""
    settings = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        settings.update(parse(line.split("#", 1)[0], f"{path}, line {number}: "))
    return settings


def set_flags(items):
    """Repeated --set KEY=VALUE flags as one dict, later ones winning; an error names the flag."""
    settings = {}
    for item in items:
        settings.update(parse(item, "--set "))
    return settings


def layer_list(text):
    """--layers' type: '4/6' -> [4, 6], 'all' -> None, as `layers=4/6` reads."""
    try:
        return parse(f"layers={text}")["layers"]
    except SettingsError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def defaults(method):
    """A new dict of `--method method`'s default settings, the method included."""
    return dict(METHOD_DEFAULTS[method], method=method)


def given(args, keys):
    """{key: value} of the flags among `keys` that the command line gave (their argparse default
    is SUPPRESS, so a flag left out leaves the method's default in place)."""
    return {key: getattr(args, key) for key in keys if hasattr(args, key)}


def check(model, settings):
    """SettingsError if the board's Trainer would refuse these settings for this (loaded) model."""
    try:
        Trainer(model, **{k: v for k, v in settings.items() if k not in serve.RUN_SETTINGS})
    except ValueError as e:
        raise SettingsError(str(e)) from None
