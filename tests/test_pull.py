"""mcutrain pull: a run's adapted weights come back as a model file that classifies the run's
test images exactly as the board did at the run's end; a serial board's checkpoint is read over
mpremote (an emulated board's pty stands in for the serial port)."""

import json

import numpy as np
import onnx

from mcutrain import model as device_model
from mcutrain_host import adaptation_data, cli, model_file
from mcutrain_host.commands.export import int8_logits, onnx_logits
from mcutrain_host.board import micropython, qemu
from mcutrain_host.commands.pull import read_from_board
from test_bench_boards_repl import crafted_run
from test_link_recovery import board_on_a_serial_port, needs_qemu

TINY = micropython.REPO / "models" / "tiny.mcut"


def test_the_pulled_model_classifies_as_the_board_did_at_the_runs_end(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", "--port", "sim", "--method", "fqt", "--samples", "200", "--test", "200",
                     "--out", str(run)]) == 0
    end = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][-1]
    assert end["accuracy_after"] != end["accuracy_before"]  # else an unchanged model would pass too
    assert cli.main(["pull", "--run", str(run), "-o", str(tmp_path / "adapted.mcut")]) == 0
    assert "after step 200 (200 samples)" in capsys.readouterr().out
    # train's test images: the test split, gaussian_noise at severity 5, drawn with seed + 1
    images, labels = adaptation_data.draw("fashion-mnist", None, "test", 200, 1, "gaussian_noise", 5)
    for path, accuracy in ((tmp_path / "adapted.mcut", end["accuracy_after"]), (TINY, end["accuracy_before"])):
        model = device_model.load(str(path))
        model.plan(batch=50)
        x = b"".join(adaptation_data.model_inputs(images, model.description))
        assert model.evaluate(x, np.ascontiguousarray(labels)) == round(accuracy * 200), path
    # and on to ONNX: onnxruntime classifies those images as the adapted model does
    assert cli.main(["export", str(tmp_path / "adapted.mcut"), "-o", str(tmp_path / "adapted.onnx")]) == 0
    ours, _, _ = int8_logits(str(tmp_path / "adapted.mcut"), images)
    theirs = onnx_logits(onnx.load(tmp_path / "adapted.onnx"), images)
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).mean() >= 0.99


def test_an_emulated_boards_run_is_pulled_from_its_flash_folder(tmp_path, capsys):
    t = crafted_run(tmp_path)
    (tmp_path / "flash").mkdir()
    for slot in tmp_path.glob("board.ckpt.*"):
        slot.rename(tmp_path / "flash" / slot.name.replace("board.ckpt", "mcutrain.ckpt"))
    assert cli.main(["pull", "--port", "qemu-m0", "--run", str(tmp_path), "--model", str(TINY),
                     "-o", str(tmp_path / "a.mcut")]) == 0
    assert (tmp_path / "a.mcut").read_bytes() == model_file.pack(t.model.description)  # the weights it saved
    assert (tmp_path / "a.mcut").read_bytes() != TINY.read_bytes()


def test_pull_refuses_a_run_without_a_checkpoint_or_with_another_model(tmp_path, capsys):
    crafted_run(tmp_path)
    (tmp_path / "metrics.jsonl").write_text((tmp_path / "metrics.jsonl").read_text().replace(
        '"event": "end"', f'"event": "end", "model": "{TINY}"'))
    assert cli.main(["pull", "--run", str(tmp_path), "--model", str(TINY.parent / "small.mcut"), "-o",
                     str(tmp_path / "a.mcut")]) == 1
    assert "but run" in capsys.readouterr().err
    for slot in tmp_path.glob("board.ckpt.*"):
        slot.unlink()
    assert cli.main(["pull", "--run", str(tmp_path), "-o", str(tmp_path / "a.mcut")]) == 1
    assert "no valid checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "a.mcut").exists()


@needs_qemu[0]
@needs_qemu[1]
def test_a_serial_boards_checkpoint_is_read_over_mpremote(tmp_path):
    crafted_run(tmp_path)
    board = board_on_a_serial_port(qemu.deploy_image("qemu-m0", TINY, tmp_path / "deploy.romfs"))
    try:
        for slot in tmp_path.glob("board.ckpt.*"):  # where a run on this board keeps them
            (board.flash / slot.name.replace("board.ckpt", "mcutrain.ckpt")).write_bytes(slot.read_bytes())
        (tmp_path / "pulled").mkdir()
        local = read_from_board(board.pty, qemu.CHECKPOINT, tmp_path / "pulled" / "board.ckpt")
    finally:
        board.close()
    slots = sorted(tmp_path.glob("board.ckpt.*"))
    assert slots and all((local.parent / slot.name).read_bytes() == slot.read_bytes() for slot in slots)
