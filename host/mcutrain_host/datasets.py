"""Image classification datasets behind one interface: `load(name, split, data_dir)`.

Images come back as uint8 NHWC arrays (n, height, width, channels) and labels as uint8 (n,).
Splits: "train" is the training file less its last images, which form "heldout" (validation
during pre-training, calibration for quantization); "test" is the test file.
"""

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

HELD_OUT = 5000


class DatasetError(Exception):
    """A dataset file is missing or damaged; the message says what to install or where to put it."""


class Idx:
    """A dataset in the IDX format of MNIST and Fashion-MNIST, files gzipped or not."""

    shape = (28, 28, 1)

    def __init__(self, name, default_dir, how_to_get):
        self.name, self.default_dir, self.how_to_get = name, default_dir, how_to_get

    def read(self, folder, which):
        prefix = "train" if which == "train" else "t10k"
        images = read_idx(self.find(folder, f"{prefix}-images-idx3-ubyte"), 3)
        labels = read_idx(self.find(folder, f"{prefix}-labels-idx1-ubyte"), 1)
        if len(images) != len(labels):
            raise DatasetError(f"{self.name} in {folder}: {prefix}-images holds {len(images)} images but "
                               f"{prefix}-labels {len(labels)} labels (damaged or mixed files); {self.how_to_get}")
        return images[..., None], labels

    def find(self, folder, stem):
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                return candidate
        raise DatasetError(f"{self.name}: {stem}.gz (or {stem}) not found in {folder}; {self.how_to_get}")


def read_idx(path, dims):
    """Reads an IDX file of unsigned bytes with `dims` dimensions (big-endian header)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DatasetError(f"{path} is damaged ({e}); download it again") from e
    header = 4 + 4 * dims
    if len(data) < header:
        raise DatasetError(f"{path} is damaged: {len(data)} bytes, shorter than an IDX header")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08 or ndim != dims:
        raise DatasetError(f"{path} is not an IDX file of {dims}-dimensional unsigned bytes "
                           f"(magic {data[:4].hex()}): wrong or damaged file")
    shape = struct.unpack(f">{dims}I", data[4:header])
    if len(data) != header + int(np.prod(shape)):
        raise DatasetError(f"{path} is damaged: its header promises {shape} but it holds "
                           f"{len(data) - header} bytes of data")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


class Cifar10:
    """CIFAR-10, "python version": pickled batches data_batch_1..5 and test_batch."""

    name = "cifar10"
    shape = (32, 32, 3)
    default_dir = None
    how_to_get = ("download the CIFAR-10 python version (cifar-10-python.tar.gz), unpack it and "
                  "pass --data-dir with the cifar-10-batches-py folder")

    def read(self, folder, which):
        names = [f"data_batch_{i}" for i in range(1, 6)] if which == "train" else ["test_batch"]
        if not (folder / names[0]).is_file() and (folder / "cifar-10-batches-py" / names[0]).is_file():
            folder = folder / "cifar-10-batches-py"
        batches = [self.read_batch(folder / name) for name in names]
        return (np.concatenate([images for images, _ in batches]),
                np.concatenate([labels for _, labels in batches]))

    def read_batch(self, path):
        if not path.is_file():
            raise DatasetError(f"cifar10: {path.name} not found in {path.parent}; {self.how_to_get}")
        try:
            with open(path, "rb") as f:
                batch = ArraysOnlyUnpickler(f, encoding="bytes").load()
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            labels = np.asarray(batch[b"labels"], dtype=np.int64)
        except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as e:
            raise DatasetError(f"{path} is damaged or not a CIFAR-10 python batch ({e!r}); "
                               f"{self.how_to_get}") from e
        if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),) or \
                np.any((labels < 0) | (labels > 9)):
            raise DatasetError(f"{path} is damaged: expected n x 3072 pixels and n labels in 0..9")
        # Rows are three 32x32 planes (red, green, blue): make them NHWC.
        return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels.astype(np.uint8)


class ArraysOnlyUnpickler(pickle.Unpickler):
    """A pickle can run any code it names; a batch file needs nothing but NumPy arrays (and
    _codecs.encode, which protocol 2 pickles written by Python 3 use to rebuild bytes)."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a dataset file")
        return super().find_class(module, name)


DATASETS = {
    "fashion-mnist": Idx("fashion-mnist", Path("/usr/share/datasets/fashion-mnist"),
                         "install Debian's package dataset-fashion-mnist (apt-get install "
                         "dataset-fashion-mnist) or pass --data-dir with the four IDX files"),
    "mnist": Idx("mnist", None, "download the four MNIST IDX files (train-images-idx3-ubyte.gz, ...) "
                 "into one folder and pass it as --data-dir"),
    "cifar10": Cifar10(),
}
SPLITS = ("train", "heldout", "test")


def load(name, split, data_dir=None):
    """(images uint8 (n, h, w, c), labels uint8 (n,)) of one split of a dataset."""
    dataset = DATASETS[name]
    folder = Path(data_dir) if data_dir else dataset.default_dir
    if folder is None:
        raise DatasetError(f"{name} has no default folder: {dataset.how_to_get}")
    if not folder.is_dir():
        raise DatasetError(f"{name}: folder {folder} does not exist; {dataset.how_to_get}")
    images, labels = dataset.read(folder, "test" if split == "test" else "train")
    if split == "test":
        return images, labels
    cut = len(images) - min(HELD_OUT, len(images) // 10)
    return (images[:cut], labels[:cut]) if split == "train" else (images[cut:], labels[cut:])


def shape_of(name):
    return DATASETS[name].shape
