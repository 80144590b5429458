"""What a study runs: a TOML file of the Study fields, then command-line flags over it.

    models = ["tiny", "small"]     # committed models (models/NAME.mcut and .npz) or .mcut paths
    corruptions = "all"            # or a list of names (`mcutrain corrupt --list`; "none": clean images)
    methods = "all"                # or a list of names (mcutrain_host.experiment.methods)
    seeds = 3                      # seeds 0 .. seeds-1: the adaptation samples, test images, trainer's seed
    samples = 1000                 # adaptation samples, per seed
    guard = 200                    # held-out samples of the seed's draw that keep the best state (mcutrain.guard)
    validation = 1000              # validation images, on which the learning rates are chosen
    test = 1000                    # test images, per seed: the figures the report gives
    batch = 10
    rates = [0.01, 0.1]            # the learning rates tried for each model and method...
    tune_corruptions = ["fog"]     # ...on these corruptions with seed 0 (mcutrain_host.experiment.tuning)
    lr = { zo-wp = 0.3, "small/fqt" = 0.003 }  # rates fixed instead, for every model or
                                               # (MODEL/METHOD) for one

Which images serve what: the models were pre-trained on the dataset's train split. Adaptation
samples and the guard's are drawn by the seed from its held-out split less that split's first
`validation` images, which are the validation images; the test images are drawn by the seed from
the test split. So rates are chosen on images that neither trained the model nor appear in the report.
"""

import dataclasses
import tomllib
from pathlib import Path

from mcutrain_host import corruptions
from mcutrain_host.board import micropython
from mcutrain_host.experiment.methods import METHODS

TEST_SEED = 1_000_003  # test images: a draw by this seed plus the cell's
VALIDATION_SEED = 1_000_033  # the validation images' corruption draw, the same for every cell
CLEAN = "none"  # the corruption name of clean images: a domain adaptation must not harm either
DOMAINS = corruptions.NAMES + (CLEAN,)  # what "all" means


@dataclasses.dataclass(frozen=True)
class Study:
    models: tuple = ("tiny", "small")
    corruptions: tuple = DOMAINS
    severity: int = 5
    methods: tuple = tuple(METHODS)
    seeds: int = 3
    samples: int = 1000
    guard: int = 200
    validation: int = 1000
    test: int = 1000
    epochs: int = 1
    batch: int = 10
    eval_every: int = 250
    queries: int = 10
    rates: tuple = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
    tune_corruptions: tuple = ("fog", "contrast")
    lr: tuple = ()  # (method or model/method, learning rate) pairs fixed in the settings
    tuned: tuple = ()  # (model/method, learning rate) pairs chosen by tuning.with_rates, not a setting
    dataset: str = "fashion-mnist"
    data_dir: str = ""

    def learning_rate(self, model, method):
        """The model's own rate for the method, else the study's, else the one tuning chose, else
        the method's default; None for a method that does not learn."""
        if not METHODS[method].lr:
            return None
        fixed = self.fixed_rate(model, method)
        return fixed if fixed is not None else dict(self.tuned).get(f"{model}/{method}", METHODS[method].lr)

    def fixed_rate(self, model, method):
        """The rate the settings fix for the model's method (its own, else every model's), or None."""
        rates = dict(self.lr)
        return rates.get(f"{model}/{method}", rates.get(method))

    def model_files(self, model):
        """(int8 NAME.mcut, float NAME-float.npz beside it) of a model name or .mcut path."""
        path = Path(model) if model.endswith(".mcut") else micropython.REPO / "models" / f"{model}.mcut"
        return path, path.with_name(path.stem + "-float.npz")


LISTS = {"models": None, "corruptions": DOMAINS, "methods": tuple(METHODS),
         "tune_corruptions": corruptions.NAMES}


def make(settings):
    """A Study from {field: value}; lists may be given as "all" or comma-separated text."""
    fields = {f.name: f for f in dataclasses.fields(Study)}
    values = {}
    for key, value in settings.items():
        if key not in fields or key == "tuned":
            raise ValueError(f"unknown study setting {key!r}; known: {', '.join(k for k in fields if k != 'tuned')}")
        if key == "lr":
            value = learning_rates(value)
        elif key == "rates":
            value = candidate_rates(value)
        elif key in LISTS:
            known = LISTS[key]
            if isinstance(value, str):
                value = known if value == "all" and known else [v for v in value.split(",") if v]
            if not value:
                raise ValueError(f"{key}: empty list")
            unknown = [v for v in value if known and v not in known]
            if unknown:
                raise ValueError(f"unknown {key}: {', '.join(unknown)} (known: {', '.join(known)})")
            value = tuple(value)
        else:
            kind = type(fields[key].default)
            if kind is str:
                value = str(value)
            else:
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    number = 0
                if number <= 0 or (kind is int and number != int(number)):
                    raise ValueError(f"{key} must be a positive {kind.__name__}, got {value!r}")
                value = kind(number)
        values[key] = value
    if "severity" in values and values["severity"] not in corruptions.SEVERITIES:
        raise ValueError("severity must be 1 to 5")
    study = Study(**values)
    for model in study.models:
        for path in study.model_files(model):
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such model file (models are names in models/ or .mcut paths)")
    return study


def learning_rates(value):
    """(key, rate) pairs of a {key: rate} table or "key=rate,..." text; a key is a method, or
    MODEL/METHOD for one model."""
    if isinstance(value, str):
        value = dict(item.split("=", 1) if "=" in item else (item, "") for item in value.split(",") if item)
    pairs = []
    for key, rate in dict(value).items():
        method = key.rsplit("/", 1)[-1]
        if method not in METHODS or METHODS[method].family == "none":
            raise ValueError(f"lr: {method!r} is not a method that learns")
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            rate = 0.0
        if rate <= 0:
            raise ValueError(f"lr: {key} needs a positive rate, e.g. {key}=0.01")
        pairs.append((key, rate))
    return tuple(sorted(pairs))


def candidate_rates(value):
    """The rates tuning tries, from a list or comma-separated text; each positive."""
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        rates = tuple(sorted(float(v) for v in items))
    except (TypeError, ValueError):
        rates = ()
    if not rates or rates[0] <= 0:
        raise ValueError(f"rates: positive learning rates, e.g. 0.01,0.1; got {value!r}")
    return rates


def load(path):
    """The settings of a TOML study file."""
    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: {e}") from e
