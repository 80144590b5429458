"""Image classification datasets behind one interface: `load(name, split, data_dir, resize)`.

Images come back as uint8 NHWC arrays (n, height, width, channels) and labels as uint8 (n,).
Splits: "train" is the training file less its last images, which form "heldout" (validation
during pre-training, calibration for quantization); "test" is the test file.

Besides the built-in names, a user's own data: "folder:DIR" (DIR/<class>/*.png or *.jpg, or
DIR/train/<class>/... and DIR/test/<class>/...) and "npz:FILE" (x, y and optionally x_test,
y_test). Where the data has no test part, a fixed fifth of it is the test split.
"""

import gzip
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

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


class Folder:
    """Images in one folder per class (the class folders' sorted names are labels 0, 1, ...)."""

    SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
    GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")

    def __init__(self, name, path, resize):
        self.name, self.default_dir, self.resize = name, Path(path), resize
        self.how_to_get = "give folder:DIR with one folder of .png/.jpg images per class in DIR"

    def read(self, folder, which):
        if (folder / "train").is_dir() and (folder / "test").is_dir():
            return self.read_classes(folder / which)
        return test_part(*self.read_classes(folder), which)

    def read_classes(self, folder):
        classes = sorted(p for p in folder.iterdir() if p.is_dir())
        if not classes:
            raise DatasetError(f"{self.name}: {folder} has no class folders; {self.how_to_get}")
        if len(classes) > 256:
            raise DatasetError(f"{self.name}: {len(classes)} class folders in {folder}; at most 256")
        files, labels = [], []
        for label, class_folder in enumerate(classes):
            found = sorted(p for p in class_folder.iterdir() if p.suffix.lower() in self.SUFFIXES)
            if not found:
                raise DatasetError(f"{self.name}: class folder {class_folder} has no .png or .jpg images")
            files += found
            labels += [label] * len(found)
        opened = [self.open(path) for path in files]
        mode = "L" if all(image.mode in self.GRAY_MODES for image in opened) else "RGB"
        pixels = [np.asarray(image.convert(mode)) for image in opened]
        for path, p in zip(files, pixels):
            if p.shape[:2] != pixels[0].shape[:2]:
                raise DatasetError(f"{self.name}: {path} is {size_text(p)}, {files[0]} {size_text(pixels[0])}: "
                                   "give --resize HxW")
        images = np.stack(pixels)
        order = np.random.default_rng(0).permutation(len(images))  # so that heldout holds every class
        return (images if images.ndim == 4 else images[..., None])[order], np.array(labels, np.uint8)[order]

    def open(self, path):
        try:
            with Image.open(path) as image:
                image.load()
                return image if self.resize is None else resize_image(image, self.resize)
        except (OSError, UnidentifiedImageError) as e:
            raise DatasetError(f"{self.name}: cannot read {path} as an image ({e})") from e


def size_text(pixels):
    return f"{pixels.shape[0]}x{pixels.shape[1]}"


class Arrays:
    """A NumPy .npz: x (n, h, w) or (n, h, w, c) uint8 pixels, y n integer labels in 0..255, and
    optionally x_test, y_test."""

    def __init__(self, name, path):
        self.name, self.path, self.default_dir = name, Path(path), Path(path).parent
        self.how_to_get = "give npz:FILE, a NumPy .npz with x (n x h x w [x c] uint8) and y (n labels)"

    def read(self, folder, which):
        try:
            with np.load(self.path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise DatasetError(f"{self.name}: cannot read {self.path} ({e}); {self.how_to_get}") from e
        for key in ("x", "y"):
            if key not in arrays:
                raise DatasetError(f"{self.name}: {self.path} has no array {key!r} (it has {sorted(arrays)}); "
                                   f"{self.how_to_get}")
        if "x_test" in arrays and "y_test" in arrays:
            return self.checked(arrays["x" if which == "train" else "x_test"],
                                arrays["y" if which == "train" else "y_test"])
        return test_part(*self.checked(arrays["x"], arrays["y"]), which)

    def checked(self, x, y):
        if x.dtype != np.uint8 or x.ndim not in (3, 4):
            raise DatasetError(f"{self.name}: x is {x.dtype} of shape {x.shape}; expected uint8 pixels, "
                               "n x h x w or n x h x w x c")
        if y.ndim != 1 or len(y) != len(x) or y.dtype.kind not in "iu" or (len(y) and (y.min() < 0 or y.max() > 255)):
            raise DatasetError(f"{self.name}: y is {y.dtype} of shape {y.shape}; expected {len(x)} integer "
                               "labels in 0..255")
        return (x if x.ndim == 4 else x[..., None]), y.astype(np.uint8)


def test_part(images, labels, which):
    """Data given without a test part: a fixed fifth of it (the same on every machine) is "test"."""
    order = np.random.default_rng(1).permutation(len(images))
    cut = len(images) // 5
    pick = order[:cut] if which == "test" else order[cut:]
    return images[pick], labels[pick]


def resize_image(image, size):
    """A Pillow image at size (h, w), bilinear: Pillow's fixed-point resampling, no BLAS."""
    h, w = size
    return image.resize((w, h), Image.BILINEAR)


def resized(images, size):
    if tuple(images.shape[1:3]) == tuple(size):
        return images
    if images.shape[-1] not in (1, 3):
        raise DatasetError(f"--resize takes images of 1 or 3 channels, not {images.shape[-1]}")
    gray = images.shape[-1] == 1
    out = [np.asarray(resize_image(Image.fromarray(image[..., 0] if gray else image), size)) for image in images]
    return np.stack(out)[..., None] if gray else np.stack(out)


DATASETS = {
    "fashion-mnist": Idx("fashion-mnist", Path("/usr/share/datasets/fashion-mnist"),
                         "install Debian's package dataset-fashion-mnist (apt-get install "
                         "dataset-fashion-mnist) or pass --data-dir with the four IDX files"),
    "mnist": Idx("mnist", None, "download the four MNIST IDX files (train-images-idx3-ubyte.gz, ...) "
                 "into one folder and pass it as --data-dir"),
    "cifar10": Cifar10(),
}
SPLITS = ("train", "heldout", "test")


def find(name, resize=None):
    """The dataset a --dataset value names: a built-in one, folder:DIR or npz:FILE."""
    if name in DATASETS:
        return DATASETS[name]
    kind, _, path = name.partition(":")
    if kind == "folder" and path:
        return Folder(name, path, resize)
    if kind == "npz" and path:
        return Arrays(name, path)
    raise DatasetError(f"unknown dataset {name!r}: one of {', '.join(sorted(DATASETS))}, folder:DIR or npz:FILE")


def load(name, split, data_dir=None, resize=None):
    """(images uint8 (n, h, w, c), labels uint8 (n,)) of one split of a dataset, each image
    resized to resize = (h, w) if given."""
    dataset = find(name, resize)
    folder = Path(data_dir) if data_dir else dataset.default_dir
    if folder is None:
        raise DatasetError(f"{name} has no default folder: {dataset.how_to_get}")
    if not folder.is_dir():
        raise DatasetError(f"{name}: folder {folder} does not exist; {dataset.how_to_get}")
    images, labels = dataset.read(folder, "test" if split == "test" else "train")
    if resize:
        images = resized(images, resize)
    if split == "test":
        return images, labels
    cut = len(images) - min(HELD_OUT, len(images) // 10)
    return (images[:cut], labels[:cut]) if split == "train" else (images[cut:], labels[cut:])

