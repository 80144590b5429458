"""The subcommands of `mcutrain`: each module has add_parser(subparsers) and sets args.run."""

import argparse

from mcutrain_host import datasets


def add_dataset_arguments(p, default_split):
    p.add_argument("--dataset", type=dataset_name, default="fashion-mnist", metavar="NAME",
                   help=f"{', '.join(sorted(datasets.DATASETS))}, or your own: folder:DIR (DIR/<class>/*.png or "
                        "*.jpg, or DIR/train/<class>/... and DIR/test/<class>/...) or npz:FILE (x: n x h x w [x c] "
                        "uint8, y: n labels, optionally x_test, y_test); without a test part a fixed fifth is "
                        "the test split (default: %(default)s)")
    p.add_argument("--resize", type=size, metavar="HxW", help="resize every image to HxW (bilinear)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="folder with the dataset's files (default for fashion-mnist: "
                        "/usr/share/datasets/fashion-mnist, from Debian's dataset-fashion-mnist)")
    p.add_argument("--split", choices=datasets.SPLITS, default=default_split,
                   help="train: the training file less its last 5000 images; heldout: those images; "
                        "test: the test file (default: %(default)s)")


def dataset_name(text):
    try:
        datasets.find(text)
    except datasets.DatasetError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def size(text):
    h, sep, w = text.lower().partition("x")
    if not (sep and h.isdigit() and w.isdigit() and int(h) > 0 and int(w) > 0):
        raise argparse.ArgumentTypeError(f"{text} is not a size HxW, such as 32x32")
    return int(h), int(w)


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value
