"""The guard (mcutrain.guard): a state is kept only when the sign test says it is better, and
restore() puts the kept bytes back. The same program runs on the board and on CPython."""

import pytest

from mcutrain import model as model_module
from mcutrain.guard import better
from mcutrain_host import adaptation_data
from test_trainer import SETTINGS_PARSER, TINY, run_both

# Steps at `lr` on the first 64 samples, a guard of the last 32 checked every 5 steps; prints
# the kept state at each keep, then the restored one, which must be the last kept.
GUARD_RUN = SETTINGS_PARSER + """
import sys
from mcutrain import model
from mcutrain.trainer import Trainer
from mcutrain.guard import Guard

path, data_path, steps, batch, settings = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
guard_path = sys.argv[6]
m = model.load(path)
t = Trainer(m, batch=batch, **trainer_settings(settings))
size = m.input_size
with open(data_path, "rb") as f:
    data = f.read()
count = len(data) // (size + 1)
images, labels = memoryview(data)[:count * size], memoryview(data)[count * size:]
g = Guard(t, guard_path, 32)
g.add(images[64 * size:80 * size], labels[64:80])
g.add(images[80 * size:96 * size], labels[80:96])

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
"""


def low_contrast_samples(path, count):
    """count held-out images at contrast severity 5, which tiny mostly gets wrong and adapts to
    quickly; as the model takes them, then their labels."""
    images, labels = adaptation_data.draw("fashion-mnist", None, "heldout", count, 0, "contrast", 5)
    inputs = adaptation_data.model_inputs(images, model_module.load(str(TINY)).description)
    path.write_bytes(b"".join(inputs) + bytes(labels))


def test_the_sign_test():
    assert not better(b"\x01\x00\x01", b"\x01\x00\x01"), "an equal state is not better"
    assert better(b"\x01" * 5, b"\x00" * 5), "5 wins, no losses: 25 > 20"
    assert not better(b"\x01" * 4, b"\x00" * 4), "4 wins, no losses: 16 is not above 16"
    assert not better(b"\x01" * 10 + b"\x00" * 5, b"\x00" * 10 + b"\x01" * 5), "10 wins, 5 losses: 25 < 60"
    assert not better(b"\x00" * 6, b"\x01" * 6), "only losses"


@pytest.mark.parametrize("settings, kept_later", [
    ("method=fqt,lr=0.01", True),  # adapting to the low contrast helps: a later state is kept
    ("method=fqt,lr=30.0", False),  # a rate that wrecks the model: the start stays kept
])
def test_guard_keeps_and_restores_alike_on_board_and_host(board, tmp_path, settings, kept_later):
    data = tmp_path / "samples.bin"
    low_contrast_samples(data, 96)
    on_board, on_host = run_both(board, tmp_path, [TINY, data, 30, 8, settings, tmp_path / "guard"],
                                 program=GUARD_RUN)
    assert on_board == on_host
    lines = on_board.splitlines()
    assert lines[0].startswith("kept 0 "), "the start is the first kept state"
    kept_steps = [int(line.split()[1]) for line in lines if line.startswith("kept")]
    assert (kept_steps[-1] > 0) == kept_later, on_board
    assert any(line.startswith("not kept") for line in lines), "every state kept: the test shows no refusal"
    assert lines[-1] == f"restored {kept_steps[-1]} 30 True", on_board
