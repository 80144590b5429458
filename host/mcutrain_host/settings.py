"""Trainer settings on the host. They are read by the board's own parser (serve.parse_settings)
and checked by the board's own Trainer, so the host reads --set, --layers, --config files and
lines typed during a run as the board does, and refuses what the board would refuse before
anything starts: one line, exit code 2, rather than a board's traceback."""

import argparse
from pathlib import Path

from mcutrain import serve
from mcutrain.trainer import Trainer


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


def layer_list(text):
    """--layers' type: '4/6' -> [4, 6], 'all' -> None, as `layers=4/6` reads."""
    try:
        return parse(f"layers={text}")["layers"]
    except SettingsError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def check(model, settings):
    """SettingsError if the board's Trainer would refuse these settings for this (loaded) model."""
    try:
        Trainer(model, **{k: v for k, v in settings.items() if k not in serve.RUN_SETTINGS})
    except ValueError as e:
        raise SettingsError(str(e)) from None
