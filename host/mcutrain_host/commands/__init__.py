"""The subcommands of `mcutrain`: each module has add_parser(subparsers) and sets args.run."""

import argparse

from mcutrain_host import datasets


def add_dataset_arguments(p, default_split):
    p.add_argument("--dataset", choices=sorted(datasets.DATASETS), default="fashion-mnist",
                   help="dataset (default: %(default)s)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="folder with the dataset's files (default for fashion-mnist: "
                        "/usr/share/datasets/fashion-mnist, from Debian's dataset-fashion-mnist)")
    p.add_argument("--split", choices=datasets.SPLITS, default=default_split,
                   help="train: the training file less its last 5000 images; heldout: those images; "
                        "test: the test file (default: %(default)s)")


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value
