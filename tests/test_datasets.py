"""Dataset loaders on small files written in the real formats, and their errors."""

import gzip
import pickle
import struct

import numpy as np
import pytest
from PIL import Image

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


def write_image_folder(folder, rng, classes=3, per_class=10, size=(10, 12), mode="RGB"):
    """DIR/<class>/*.png whose first pixel's red value is 40 * label, the rest random."""
    expected = []
    for label in range(classes):
        (folder / f"class{label}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            pixels[0, 0] = 40 * label
            image = Image.fromarray(pixels)
            (image if mode == "RGB" else image.convert(mode)).save(folder / f"class{label}" / f"{i:03}.png")
            expected.append(label)
    return expected


def test_a_folder_of_class_folders_is_a_dataset(tmp_path):
    write_image_folder(tmp_path / "photos", np.random.default_rng(0))
    name = f"folder:{tmp_path / 'photos'}"
    splits = {split: datasets.load(name, split) for split in datasets.SPLITS}
    assert {split: len(labels) for split, (_, labels) in splits.items()} == {"train": 22, "heldout": 2, "test": 6}
    for images, labels in splits.values():
        assert images.shape[1:] == (10, 12, 3) and images.dtype == np.uint8
        assert np.array_equal(images[:, 0, 0, 0], 40 * labels.astype(int))  # each image keeps its class
    everything = np.concatenate([images for images, _ in splits.values()])
    assert len({image.tobytes() for image in everything}) == 30  # the splits are disjoint and cover all
    assert np.array_equal(datasets.load(name, "test")[0], splits["test"][0])  # the same split every time
    assert sorted(set(splits["train"][1].tolist())) == [0, 1, 2]  # shuffled: train holds every class


def test_gray_folders_have_one_channel_and_train_test_folders_are_the_splits(tmp_path):
    rng = np.random.default_rng(1)
    write_image_folder(tmp_path / "d" / "train", rng, per_class=4, mode="L")
    write_image_folder(tmp_path / "d" / "test", rng, per_class=2, mode="L")
    images, labels = datasets.load(f"folder:{tmp_path / 'd'}", "test")
    assert images.shape == (6, 10, 12, 1) and sorted(labels.tolist()) == [0, 0, 1, 1, 2, 2]
    Image.new("RGB", (12, 10), (200, 0, 0)).save(tmp_path / "d" / "test" / "class0" / "red.png")
    assert datasets.load(f"folder:{tmp_path / 'd'}", "test")[0].shape == (7, 10, 12, 3)  # one colour image: RGB


def test_folder_errors_name_the_folder_or_file(tmp_path):
    write_image_folder(tmp_path / "d", np.random.default_rng(2), per_class=2)
    name = f"folder:{tmp_path / 'd'}"
    Image.new("RGB", (20, 16)).save(tmp_path / "d" / "class1" / "big.png")
    with pytest.raises(DatasetError, match=r"big.png is 16x20, .*000.png 10x12: give --resize HxW"):
        datasets.load(name, "train")
    images, _ = datasets.load(name, "train", resize=(8, 9))
    assert images.shape[1:] == (8, 9, 3)
    (tmp_path / "d" / "class2" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DatasetError, match="cannot read .*broken.jpg as an image"):
        datasets.load(name, "train")
    (tmp_path / "d" / "class3").mkdir()
    with pytest.raises(DatasetError, match="class folder .*class3 has no .png or .jpg images"):
        datasets.load(name, "train")
    with pytest.raises(DatasetError, match="does not exist"):
        datasets.load(f"folder:{tmp_path / 'nowhere'}", "train")


def test_npz_arrays_are_a_dataset(tmp_path):
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 256, (50, 6, 8), dtype=np.uint8), rng.integers(0, 4, 50)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    images, labels = datasets.load(f"npz:{tmp_path / 'a.npz'}", "test")
    assert images.shape == (10, 6, 8, 1) and labels.dtype == np.uint8
    assert {image[..., 0].tobytes() for image in images} <= {image.tobytes() for image in x}
    np.savez(tmp_path / "b.npz", x=x, y=y, x_test=x[:3, ..., None].repeat(3, axis=3), y_test=y[:3])
    images, labels = datasets.load(f"npz:{tmp_path / 'b.npz'}", "test", resize=(12, 16))
    assert images.shape == (3, 12, 16, 3) and np.array_equal(labels, y[:3])
    assert len(datasets.load(f"npz:{tmp_path / 'b.npz'}", "train")[0]) == 45  # all 50 but the heldout tenth


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((4, 5, 5), np.float32), "y": np.zeros(4, int)}, "x is float32 .* expected uint8 pixels"),
    ({"x": np.zeros((4, 5, 5), np.uint8)}, "has no array 'y'"),
    ({"x": np.zeros((4, 5, 5), np.uint8), "y": np.array([0, 1, 2, 300])}, "expected 4 integer labels in 0..255"),
    ({"x": np.zeros((4, 5, 5), np.uint8), "y": np.zeros(3, int)}, "expected 4 integer labels"),
])
def test_npz_errors_say_what_is_expected(tmp_path, arrays, message):
    np.savez(tmp_path / "a.npz", **arrays)
    with pytest.raises(DatasetError, match=message):
        datasets.load(f"npz:{tmp_path / 'a.npz'}", "train")
    (tmp_path / "b.npz").write_bytes(b"PK not a zip")
    with pytest.raises(DatasetError, match="cannot read"):
        datasets.load(f"npz:{tmp_path / 'b.npz'}", "train")


def test_resize_works_on_the_built_in_datasets_too(tmp_path):
    write_idx_dataset(tmp_path / "d", np.random.default_rng(4))
    images, _ = datasets.load("mnist", "test", tmp_path / "d", resize=(14, 14))
    assert images.shape == (12, 14, 14, 1)
    np.savez(tmp_path / "two.npz", x=np.zeros((5, 4, 4, 2), np.uint8), y=np.zeros(5, int))
    assert datasets.load(f"npz:{tmp_path / 'two.npz'}", "train")[0].shape[1:] == (4, 4, 2)  # any channels
    with pytest.raises(DatasetError, match="--resize takes images of 1 or 3 channels, not 2"):
        datasets.load(f"npz:{tmp_path / 'two.npz'}", "train", resize=(8, 8))
    with pytest.raises(DatasetError, match="unknown dataset 'imagenet'"):
        datasets.find("imagenet")
