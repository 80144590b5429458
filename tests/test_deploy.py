"""`mcutrain deploy` onto the virtual board: the right natmod is checked before anything is
copied, the board itself builds the plan's trainer, and the refusals say what to do."""

import re

from mcutrain_host import cli
from mcutrain_host.commands.train import model_identity
from test_trainer import TINY


def test_deploy_to_the_virtual_board_confirms_with_the_boards_hello(capsys):
    assert cli.main(["deploy", "--port", "sim", "--heap", "256K"]) == 0
    out = capsys.readouterr().out
    assert "arch x64, .mpy ABI 6.3" in out and "kernels=qnn" in out and f"model={model_identity(TINY)}" in out


def test_set_sizes_the_plan_the_board_builds(capsys):
    arenas = []
    for flags in ([], ["--set", "fqt_layers=3"]):
        assert cli.main(["deploy", "--port", "sim", "--heap", "256K", "--method", "fqt", *flags]) == 0
        arenas.append(int(re.search(r"in an arena of (\d+) bytes", capsys.readouterr().out).group(1)))
    assert arenas[1] > arenas[0]  # a third FQT layer keeps its input and output for the backward pass
    assert cli.main(["deploy", "--port", "sim", "--method", "fqt", "--set", "fqt_layers=x"]) == 2
    assert "--set fqt_layers=x: fqt_layers takes a whole number" in capsys.readouterr().err


def test_a_plan_larger_than_the_heap_is_refused_by_the_board_with_the_figures(capsys):
    # 128K starts the server, whose trainer then finds no room: the board's own verdict.
    assert cli.main(["deploy", "--port", "sim", "--heap", "128K", "--method", "fqt"]) == 1
    err = capsys.readouterr().err
    assert "the board could not build the training plan (MemoryError: " in err
    assert "KB free (the virtual board's heap is 128K: --heap); the plan's arena takes" in err and "--layers" in err


def test_a_heap_too_small_for_the_server_is_a_refusal_not_a_dead_link(capsys):
    assert cli.main(["deploy", "--port", "sim", "--heap", "96K", "--method", "fqt"]) == 1
    err = capsys.readouterr().err
    assert "the board could not start the server (MemoryError: " in err and "loading the model" in err
    assert "Traceback" not in err


def test_a_board_without_a_matching_natmod_is_refused(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MCUTRAIN_BUILD", str(tmp_path / "no-natmods"))
    assert cli.main(["deploy", "--port", "sim"]) == 1
    assert "no qnn natmod for this board (arch x64" in capsys.readouterr().err


def test_eval_on_the_board_counts_what_the_host_counts(capsys):
    args = ["eval", str(TINY), "--count", "300", "--corruption", "contrast", "--severity", "4"]
    assert cli.main(args) == 0
    host = capsys.readouterr().out
    assert cli.main(args + ["--port", "sim"]) == 0
    board = capsys.readouterr().out
    assert "on the board" in board and host.split(": ")[1].split("%")[0] == board.split(": ")[1].split("%")[0]

