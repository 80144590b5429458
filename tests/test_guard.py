"""The guard (mcutrain.guard): a state is kept only when the sign test says it is better, and
restore() puts the kept bytes back. The same program runs on the board and on CPython."""

import json

import pytest

from mcutrain import model as model_module
from mcutrain.guard import better, keeps
from mcutrain_host import adaptation_data
from test_link import run
from test_trainer import TINY, TRAINER_AND_SAMPLES, run_both

# Steps at `lr` on the first 64 samples, a guard of the last 64 checked every 5 steps; prints
# the kept state at each keep, then the restored one, which must be the last kept.
GUARD_RUN = TRAINER_AND_SAMPLES + """
from mcutrain.guard import Guard

guard_path = sys.argv[6]
g = Guard.new(t, guard_path, 64)
g.add(images[64 * size:96 * size], labels[64:96])
g.add(images[96 * size:128 * size], labels[96:128])

def state():
    return "".join(bytes(l.weight).hex() + bytes(l.bias).hex() for l in m.layers if l.weight is not None)

kept = None
for s in range(steps + 1):
    if s % 5 == 0:
        if g.check():
            kept = state()
            print("kept", t.steps, g.kept_correct)
        else:
            print("not kept", t.steps, g.score())
    if s < steps:
        i = (s * batch) % 64
        t.step(images[i * size:(i + batch) * size], labels[i:i + batch])
print("restored", g.restore(), t.steps, state() == kept)
again = Guard.reopen(t, guard_path, 64)  # as after a board reset
print("reopened", again.kept_step, again.kept_correct == g.kept_correct, again.check(), again.score() == g.score())
"""


def low_contrast_samples(path, count):
    """count held-out images at contrast severity 5, which tiny mostly gets wrong and adapts to
    quickly; as the model takes them, then their labels."""
    images, labels = adaptation_data.draw("fashion-mnist", None, "heldout", count, 0, "contrast", 5)
    inputs = adaptation_data.model_inputs(images, model_module.load(str(TINY)).description)
    path.write_bytes(b"".join(inputs) + bytes(labels))


def test_the_sign_test():
    assert not better(b"\x01\x00\x01", b"\x01\x00\x01"), "an equal state is not better"
    assert better(b"\x01" * 10, b"\x00" * 10), "10 wins, no losses: 100 > 90"
    assert not better(b"\x01" * 9, b"\x00" * 9), "9 wins, no losses: 81 is not above 81"
    assert not better(b"\x01" * 20 + b"\x00" * 5, b"\x00" * 20 + b"\x01" * 5), "20 wins, 5 losses: 225 is not above 225"
    assert not better(b"\x00" * 6, b"\x01" * 6), "only losses"
    assert keeps(b"\x01" * 10, 10, b"\x00" * 10, 9), "better than the start and above the kept score"
    assert not keeps(b"\x01" * 10, 10, b"\x00" * 10, 10), "better than the start, but no higher than the kept one"


@pytest.mark.parametrize("settings, kept_later", [
    ("method=fqt,lr=0.01", True),  # adapting to the low contrast helps: a later state is kept
    ("method=fqt,lr=30.0", False),  # a rate that wrecks the model: the start stays kept
])
def test_guard_keeps_and_restores_alike_on_board_and_host(board, tmp_path, settings, kept_later):
    data = tmp_path / "samples.bin"
    low_contrast_samples(data, 128)
    on_board, on_host = run_both(board, tmp_path, [TINY, data, 30, 8, settings, tmp_path / "guard"],
                                 program=GUARD_RUN)
    assert on_board == on_host
    lines = on_board.splitlines()
    assert lines[0].startswith("kept 0 "), "the start is the first kept state"
    kept_steps = [int(line.split()[1]) for line in lines if line.startswith("kept")]
    assert (kept_steps[-1] > 0) == kept_later, on_board
    assert any(line.startswith("not kept") for line in lines), "every state kept: the test shows no refusal"
    assert lines[-2] == f"restored {kept_steps[-1]} 30 True", on_board
    # The kept state, scored again by the reopened guard, is not kept again: it is no better than itself.
    assert lines[-1] == f"reopened {kept_steps[-1]} True False True", on_board


def test_reopen_refuses_a_guard_that_was_never_checked(tmp_path):
    from mcutrain import model
    from mcutrain.guard import Guard
    from mcutrain.trainer import Trainer

    t = Trainer(model.load(str(TINY)), method="fqt")
    path = str(tmp_path / "guard")
    Guard.new(t, path, 4).add(bytes(4 * t.model.input_size), bytes(4))
    with pytest.raises(ValueError, match="no checked guard of 4 samples"):
        Guard.reopen(t, path, 4)


FQT = {"method": "fqt", "lr": 0.01, "batch": 2}


def test_a_guarded_run_ends_with_the_kept_state_through_a_board_kill(tmp_path):
    """Over the link: the board checks the guard at every evaluation and gives back the kept state
    before the last one, here the start, which a wrecking rate cannot beat. Killed mid-run, the
    board takes its guard up from its files and ends the same."""
    settings = dict(FQT, lr=30.0)
    _, _, records, session, clean = run(tmp_path / "clean", guard=40, settings=settings)
    killed = []

    def kill_once(record, board):
        if record["event"] == "step" and record["samples"] == 138 and not killed:
            killed.append(record["samples"])
            board.kill()

    _, _, again, resumed, after_kill = run(tmp_path / "killed", guard=40, settings=settings, on_record=kill_once)
    assert killed and resumed.reconnects == 1
    assert session.kept == resumed.kept and after_kill == clean
    evals = [r["accuracy"] for r in records if r["event"] == "eval"]
    assert [r["accuracy"] for r in again if r["event"] == "eval"][-1] == evals[-1]
    assert session.kept["kept_step"] == 0 and evals[-1] == evals[0] > evals[-2], evals


def test_train_with_a_guard_keeps_a_state_that_beats_the_start(tmp_path, capsys):
    """`mcutrain train --guard`: low contrast, which FQT recovers from, so a later state is kept and
    the run ends with it; the summary says which."""
    from mcutrain_host import cli

    out = tmp_path / "run"
    assert cli.main(["train", "--port", "sim", "--method", "fqt", "--batch", "10", "--samples", "300", "--guard",
                     "100", "--eval-every", "100", "--corruption", "contrast", "--test", "200", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    end = records[-1]
    kept = end["guard"]
    assert kept["kept_step"] > 0 and kept["kept_correct"] > kept["start_correct"] and kept["count"] == 100
    assert f"guard: kept the state after step {kept['kept_step']}, {kept['kept_correct']} of 100" in printed
    evals = [r for r in records if r["event"] == "eval"]
    at_kept = [r["accuracy"] for r in evals if r["steps"] == kept["kept_step"]]
    assert end["accuracy_after"] == evals[-1]["accuracy"] == at_kept[0]
