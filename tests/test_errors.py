"""What a user gets wrong, or a file or port that is not what it should be, is one line on stderr,
`mcutrain COMMAND: ...`, with the README's exit code (1 a file or board, 2 bad usage) and no
traceback (#15 item 13); and what a run quietly leaves out of what was asked is a warning line
(#15 item 15)."""

import numpy as np
import pytest

from mcutrain_host import cli
from mcutrain_host.board.micropython import REPO
from test_datasets import write_cifar, write_idx_dataset

TINY, TINY_FLOAT = str(REPO / "models" / "tiny.mcut"), str(REPO / "models" / "tiny-float.npz")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    write_cifar(folder / "cifar", np.random.default_rng(0))
    np.savez(folder / "no_meta.npz", weights=np.zeros(3))
    (folder / "garbage.npz").write_bytes(bytes(range(200)))
    (folder / "truncated.mcut").write_bytes((REPO / "models" / "tiny.mcut").read_bytes()[:5000])
    (folder / "empty_run").mkdir()
    return folder


def mcutrain(*argv):
    """The exit code of `mcutrain ARGV`, argparse's refusals included."""
    try:
        return cli.main(list(argv))
    except SystemExit as e:
        return e.code


@pytest.mark.parametrize("argv, code, message", [
    (["train", "--port", "/dev/ttyNOPE"], 1, "/dev/ttyNOPE does not exist: `mcutrain boards` lists the serial ports"),
    (["train", "--port", "qemu-m9"], 2, "qemu-m9 is no emulated board; those are qemu-m0, qemu-m3, qemu-m4"),
    (["eval", TINY_FLOAT, "--dataset", "cifar10", "--data-dir", "{files}/cifar"], 2,
     "the model takes 28x28x1 images, the dataset's are 32x32x3"),
    (["quantize", "{files}/no_meta.npz", "-o", "{files}/out.mcut"], 1, "no_meta.npz: not a float model"),
    (["quantize", "{files}/garbage.npz", "-o", "{files}/out.mcut"], 1, "garbage.npz: not a float model"),
    (["plot", "{files}/empty_run"], 1, "empty_run/metrics.jsonl"),
    (["deploy", "--port", "sim", "--model", "{files}/truncated.mcut"], 1, "the file has 5000 (truncated"),
    (["train", "--model", "{files}/truncated.mcut"], 1, "the file has 5000 (truncated"),
    (["bench", "--port", "sim", "--model", "{files}/truncated.mcut"], 1, "the file has 5000 (truncated"),
    (["train", "--set", "lr=-1"], 2, "lr must be positive"),
    (["train", "--layers", "9"], 2, "layer 9 is not a layer with weights"),
    (["train", "--layers", "4/x"], 2, "layers=4/x: layers takes layer indices"),
    (["train", "--layers", "6/-1"], 2, "layer 6 is given twice in layers=[6, -1]"),
    (["train", "--layers=-8"], 2, "layer -8 is not a layer with weights"),
    (["deploy", "--port", "sim", "--layers", "9"], 2, "layer 9 is not a layer with weights"),
], ids=lambda value: " ".join(value) if isinstance(value, list) else None)
def test_a_mistake_is_one_line_with_its_exit_code(files, capsys, argv, code, message):
    argv = [arg.format(files=files) for arg in argv]
    small_run = ["--samples", "4", "--test", "4"] if argv[0] == "train" else []
    assert mcutrain(*argv, *small_run) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 or err.startswith("usage: "), err  # argparse's usage lines come before its message
    assert lines[-1].startswith(f"mcutrain {argv[0]}: ") and message in lines[-1], err


def test_fewer_samples_than_asked_are_announced(tmp_path, capsys):
    write_idx_dataset(tmp_path / "mnist", np.random.default_rng(0))  # 27 training images
    assert mcutrain("train", "--port", "sim", "--dataset", "mnist", "--data-dir", str(tmp_path / "mnist"),
                    "--samples", "100", "--batch", "4", "--test", "4", "--out", str(tmp_path / "run")) == 0
    err = capsys.readouterr().err
    assert "warning: the mnist train split has 27 images: --samples 100 uses 27" in err
    assert "warning: 27 samples are not whole batches of 4: the run applies 24" in err
