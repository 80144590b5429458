"""Dataset loaders on small files written in the real formats, and their errors."""

import gzip
import pickle
import struct

import numpy as np
import pytest

from mcutrain_host import datasets
from mcutrain_host.datasets import DatasetError


def idx_bytes(array):
    return struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx_dataset(folder, rng, train=30, test=12, compress=True):
    """Four IDX files like MNIST's; returns what they hold."""
    folder.mkdir(exist_ok=True)
    content = {}
    for prefix, n in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        for kind, array, dims in (("images", images, 3), ("labels", labels, 1)):
            name = f"{prefix}-{kind}-idx{dims}-ubyte"
            data = idx_bytes(array)
            if compress:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
        content[prefix] = images, labels
    return content


def write_cifar(folder, rng, per_batch=4):
    folder.mkdir(exist_ok=True)
    content = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        # The real batches were pickled by Python 2: bytes keys, labels a list.
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [b"x.png"] * per_batch}, f, protocol=2)
        content[name] = data, labels
    return content


@pytest.mark.parametrize("compress", [True, False])
def test_idx_splits_hold_the_files_images(tmp_path, compress):
    content = write_idx_dataset(tmp_path / "d", np.random.default_rng(1), compress=compress)
    train_images, train_labels = content["train"]
    images, labels = datasets.load("mnist", "train", tmp_path / "d")
    assert images.shape == (27, 28, 28, 1) and images.dtype == np.uint8
    assert np.array_equal(images[..., 0], train_images[:27]) and np.array_equal(labels, train_labels[:27])
    images, labels = datasets.load("fashion-mnist", "heldout", tmp_path / "d")
    assert np.array_equal(images[..., 0], train_images[27:]) and np.array_equal(labels, train_labels[27:])
    images, labels = datasets.load("mnist", "test", tmp_path / "d")
    assert np.array_equal(images[..., 0], content["t10k"][0]) and np.array_equal(labels, content["t10k"][1])


def test_cifar_batches_become_nhwc(tmp_path):
    content = write_cifar(tmp_path / "cifar-10-batches-py", np.random.default_rng(2))
    # The folder above the unpacked batches works too.
    images, labels = datasets.load("cifar10", "test", tmp_path)
    data, expected_labels = content["test_batch"]
    assert images.shape == (4, 32, 32, 3)
    # Pixel (y, x) of channel c is byte c*1024 + y*32 + x of a row.
    assert images[1, 5, 7, 2] == data[1, 2 * 1024 + 5 * 32 + 7]
    assert images[3, 31, 0, 0] == data[3, 31 * 32]
    assert labels.tolist() == expected_labels
    train, _ = datasets.load("cifar10", "train", tmp_path / "cifar-10-batches-py")
    assert len(train) == 20 - 2  # 5 batches of 4, less the held-out tenth


def test_missing_fashion_mnist_says_what_to_install(tmp_path):
    with pytest.raises(DatasetError, match="dataset-fashion-mnist"):
        datasets.load("fashion-mnist", "train", tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz.*not found.*dataset-fashion-mnist"):
        datasets.load("fashion-mnist", "train", tmp_path / "empty")


def test_mnist_and_cifar_need_a_folder():
    for name in ("mnist", "cifar10"):
        with pytest.raises(DatasetError, match="--data-dir"):
            datasets.load(name, "test")


@pytest.mark.parametrize("damage", ["truncated gzip", "short data", "wrong magic", "not gzip", "label count"])
def test_damaged_idx_files_are_named(tmp_path, damage):
    folder = tmp_path / "d"
    write_idx_dataset(folder, np.random.default_rng(3))
    path = folder / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    if damage == "truncated gzip":
        path.write_bytes(path.read_bytes()[:-20])
    elif damage == "short data":
        path.write_bytes(gzip.compress(raw[:-5]))
    elif damage == "wrong magic":
        path.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + raw[4:]))
    elif damage == "not gzip":
        path.write_bytes(raw)
    else:
        labels = folder / "t10k-labels-idx1-ubyte.gz"
        labels.write_bytes(gzip.compress(idx_bytes(np.zeros(5, np.uint8))))
    with pytest.raises(DatasetError) as error:
        datasets.load("mnist", "test", folder)
    assert "t10k" in str(error.value)


def test_cifar_batch_with_foreign_code_is_refused(tmp_path):
    folder = tmp_path / "c"
    write_cifar(folder, np.random.default_rng(4))
    # A pickle that would call os.system when loaded.
    (folder / "test_batch").write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    with pytest.raises(DatasetError, match="not allowed"):
        datasets.load("cifar10", "test", folder)
    (folder / "test_batch").write_bytes(b"\x80\x02}q\x00.")  # an empty dict: no data
    with pytest.raises(DatasetError, match="test_batch"):
        datasets.load("cifar10", "test", folder)
