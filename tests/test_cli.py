"""`mcutrain pretrain | quantize | eval` end to end on small IDX folders, help and exit codes."""

import gzip
import re

import numpy as np
import pytest
from PIL import Image

from mcutrain_host import cli, datasets
from model_cases import MODELS
from test_datasets import idx_bytes


def write_idx(folder, train, test):
    """An IDX folder holding the given (images, labels) for train and t10k."""
    folder.mkdir()
    for prefix, (images, labels) in (("train", train), ("t10k", test)):
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images[..., 0])))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))


def accuracy(output):
    correct, total = map(int, re.search(r"(\d+)/(\d+) = ", output).groups())
    return correct / total


@pytest.fixture(scope="module")
def fashion_subset(tmp_path_factory):
    """400 Fashion-MNIST test images as a dataset folder of its own (train and test alike)."""
    images, labels = datasets.load("fashion-mnist", "test")
    folder = tmp_path_factory.mktemp("data") / "fashion"
    write_idx(folder, (images[:400], labels[:400]), (images[:400], labels[:400]))
    return folder


def test_help_teaches_every_command(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for command in ("pretrain", "quantize", "eval", "make models", "exit codes"):
        assert command in text
    for command in ("pretrain", "quantize", "eval", "corrupt", "train", "demo"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        assert re.search(r"examples?:\s+mcutrain " + command, capsys.readouterr().out), command


def test_eval_of_the_committed_tiny_float_and_int8(capsys, fashion_subset):
    assert cli.main(["eval", str(MODELS / "tiny-float.npz"), "--data-dir", str(fashion_subset)]) == 0
    float_accuracy = accuracy(capsys.readouterr().out)
    assert cli.main(["eval", str(MODELS / "tiny.mcut"), "--data-dir", str(fashion_subset), "--batch", "128"]) == 0
    out = capsys.readouterr().out
    assert "(int8)" in out and "400" in out
    assert float_accuracy > 0.8 and abs(accuracy(out) - float_accuracy) <= 0.03


def test_pretrain_quantize_eval_pipeline(capsys, tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300).astype(np.uint8)
    images = rng.integers(0, 40, (300, 28, 28, 1)).astype(np.uint8)
    for c in range(3):  # a bright band whose position is the class
        images[labels == c, 9 * c:9 * c + 9] += 200
    write_idx(tmp_path / "bands", (images, labels), (images[:100], labels[:100]))
    data = ["--dataset", "mnist", "--data-dir", str(tmp_path / "bands")]
    assert cli.main(["pretrain", "--model", "tiny", "--epochs", "3", "--lr", "0.01", *data,
                     "-o", str(tmp_path / "f.npz")]) == 0
    assert "tiny: " in capsys.readouterr().out
    assert cli.main(["quantize", str(tmp_path / "f.npz"), *data, "-o", str(tmp_path / "m.mcut")]) == 0
    assert "calibrated on 30 mnist heldout images" in capsys.readouterr().out
    assert cli.main(["eval", str(tmp_path / "m.mcut"), *data]) == 0
    assert accuracy(capsys.readouterr().out) > 0.9


def test_errors_exit_1_with_what_to_do(capsys, tmp_path):
    assert cli.main(["eval", str(MODELS / "tiny.mcut"), "--data-dir", str(tmp_path / "missing")]) == 1
    assert "dataset-fashion-mnist" in capsys.readouterr().err
    (tmp_path / "bad.mcut").write_bytes((MODELS / "tiny.mcut").read_bytes()[:-1])
    assert cli.main(["eval", str(tmp_path / "bad.mcut")]) == 1
    assert "model file:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        cli.main(["pretrain", "--epochs", "0", "-o", "x.npz"])
    assert usage.value.code == 2


def test_your_own_colour_images_go_from_pretraining_to_training_on_the_board(capsys, tmp_path):
    rng = np.random.default_rng(0)
    for label in range(3):  # the class is the brightest colour channel
        (tmp_path / "photos" / f"class{label}").mkdir(parents=True)
        for i in range(60):
            pixels = rng.integers(0, 120, (20, 20, 3), dtype=np.uint8)
            pixels[..., label] += 120
            Image.fromarray(pixels).save(tmp_path / "photos" / f"class{label}" / f"{i}.png")
    data = ["--dataset", f"folder:{tmp_path / 'photos'}", "--resize", "16x16"]
    assert cli.main(["pretrain", "--model", "tiny", "--epochs", "4", "--lr", "0.01", *data,
                     "-o", str(tmp_path / "f.npz")]) == 0
    assert cli.main(["quantize", str(tmp_path / "f.npz"), *data, "-o", str(tmp_path / "m.mcut")]) == 0
    assert cli.main(["eval", str(tmp_path / "m.mcut"), *data]) == 0
    assert accuracy(capsys.readouterr().out) > 0.9
    assert cli.main(["train", "--port", "sim", "--model", str(tmp_path / "m.mcut"), *data, "--corruption", "fog",
                     "--samples", "20", "--test", "20", "--out", str(tmp_path / "run")]) == 0
    assert "accuracy after" in capsys.readouterr().out
