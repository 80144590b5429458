"""The ZO trainer: the same bytes on the board (natmod) and on CPython (NumPy reference), and no
allocation per step on the board."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from mcutrain import model as model_module
from mcutrain.trainer import Trainer
from mcutrain_host import datasets
from mcutrain_host.board import micropython
from mcutrain_host.quantize import quantize_images

TINY = micropython.REPO / "models" / "tiny.mcut"
SMALL = micropython.REPO / "models" / "small.mcut"

SETTINGS_PARSER = """
def trainer_settings(text):
    \"\"\"'mode=wp,layers=4/6,lr=0.01' -> Trainer keyword arguments (layers=all: every layer).\"\"\"
    kwargs = {}
    for item in text.split(","):
        k, v = item.split("=")
        kwargs[k] = v if k in ("mode", "schedule_name", "method") or v in ("fast", "lean") else (None if v == "all" else
            [int(i) for i in v.split("/")] if k == "layers" else float(v) if k in ("lr", "zo_lr", "lmin", "lmax") else int(v))
    return kwargs
"""

# The start of programs run unchanged by MicroPython (natmod) and CPython (reference): a model,
# its trainer and the samples of a file (corrupted_samples), from the command line.
TRAINER_AND_SAMPLES = SETTINGS_PARSER + """
import sys
from mcutrain import model
from mcutrain.trainer import Trainer

path, data_path, steps, batch, settings = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
m = model.load(path)
t = Trainer(m, batch=batch, **trainer_settings(settings))
size = m.input_size
with open(data_path, "rb") as f:
    data = f.read()
count = len(data) // (size + 1)
images, labels = memoryview(data)[:count * size], memoryview(data)[count * size:]
"""
TRAIN_STEPS = TRAINER_AND_SAMPLES + """batches = [(images[i * size:(i + batch) * size], labels[i:i + batch]) for i in range(0, count - batch + 1, batch)]
losses = []
for s in range(steps):
    x, y = batches[s % len(batches)]
    losses.append(t.step(x, y))
# Tensor by tensor: one string of them all is a block a fragmented heap may not hold.
for layer in m.layers:
    if layer.weight is not None:
        print(bytes(layer.weight).hex(), end=" ")
        print(bytes(layer.bias).hex(), end=" ")
print()
print(losses)
"""


def corrupted_samples(path, count, seed=0):
    """count Fashion-MNIST test images with strong gaussian noise, int8 as the model takes them,
    then their labels: one file a board can read."""
    description = model_module.load(str(TINY)).description
    images, labels = datasets.load("fashion-mnist", "test")
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(images), count, replace=False)
    noisy = np.clip(images[picked] + rng.normal(0, 80, images[picked].shape), 0, 255).astype(np.uint8)
    x = quantize_images(noisy, description.input_scale, description.input_zero_point)
    path.write_bytes(x.tobytes() + labels[picked].astype(np.uint8).tobytes())


def run_both(board, tmp_path, args, heap="512K", program=TRAIN_STEPS):
    """(board's output, CPython's) of one program that takes `args`."""
    text, program = program, tmp_path / "program.py"
    program.write_text(text)
    on_board = board.run_file(program, heap=heap, args=args)
    env = {"PYTHONPATH": str(micropython.device_path())}
    proc = subprocess.run([sys.executable, str(program), *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    return on_board, proc.stdout


METHODS = {
    "zo-wp": "mode=wp,layers=all,queries=4",
    "zo-np": "mode=np,layers=4/6,queries=4",
    "zo-mix": "mode=mix,layers=2/4/6,queries=4,schedule_name=cosine,total_steps=50",
    "zo-antithetic": "mode=wp,layers=6,queries=3,antithetic=1",
    "zo-np-last2": "mode=np,layers=-2/-1,queries=30",  # the last two weighted layers, counted from the end
    "zo-np-last2-std": "mode=np,layers=-2/-1,queries=30,standardize=1",
}


def assert_trains_alike(board, tmp_path, model_path, settings, heap="512K"):
    """50 steps of batch 4 on 64 noisy samples change the weights, identically on board and host."""
    data = tmp_path / "samples.bin"
    corrupted_samples(data, 64)
    on_board, on_host = run_both(board, tmp_path, [model_path, data, 50, 4, settings], heap=heap)
    before = model_module.load(str(model_path))
    initial = "".join(bytes(t).hex() + " " for layer in before.layers if layer.weight is not None
                      for t in (layer.weight, layer.bias))
    assert on_board.splitlines()[0] != initial, "training changed nothing: the test would prove nothing"
    assert hashlib.sha256(on_board.encode()).hexdigest() == hashlib.sha256(on_host.encode()).hexdigest(), \
        f"board and host differ after 50 steps of {settings}"


def assert_allocates_nothing(board, tmp_path, model_path, settings):
    """Stricter than reading mem_alloc after gc.collect(): with the collector off, even memory
    allocated and dropped within a step would show."""
    data = tmp_path / "samples.bin"
    corrupted_samples(data, 16)
    program = tmp_path / "no_allocation.py"
    program.write_text(NO_ALLOCATION)
    out = board.run_file(program, heap="512K", args=[model_path, data, settings])
    assert int(out) == 0, f"100 steps of {settings} allocated {out} bytes"


@pytest.mark.parametrize("method", METHODS)
def test_board_and_host_train_to_the_same_bytes(board, tmp_path, method):
    assert_trains_alike(board, tmp_path, TINY, METHODS[method])


@pytest.mark.parametrize("model,settings", [
    (TINY, "mode=mix,layers=0/2/4/6,queries=3"),
    (TINY, "method=hybrid,mode=mix,queries=2"),
    (TINY, "method=fqt,lr=0.003"),
    (SMALL, "mode=mix,layers=4/9/12,queries=2"),
    (SMALL, "mode=np,layers=9/12/14,queries=2,standardize=1"),
    (SMALL, "method=fqt,lr=0.003"),
], ids=["tiny-zo-mix", "tiny-hybrid", "tiny-fqt", "small-zo-mix", "small-zo-np-standardized", "small-fqt"])
def test_lean_and_fast_plans_train_to_the_same_bytes(board, tmp_path, model, settings):
    """A plan changes where bytes live, not the arithmetic: the lean plan re-runs each query from
    the input where the fast one restarts from kept tensors, and makes FQT's weight gradients a
    group of output channels at a time; a budget between them keeps some restart tensors (ZO
    only: FQT has none). On the board and on the host alike."""
    data = tmp_path / "samples.bin"
    corrupted_samples(data, 16)
    plans = ["fast", "lean"] + ([] if "method=fqt" in settings else [middle_budget(model, settings, 2)])
    runs = [run_both(board, tmp_path, [model, data, 8, 2, f"{settings},plan={plan}"]) for plan in plans]
    assert all(run == runs[0] for run in runs) and runs[0][0] == runs[0][1]
    assert runs[0][0].splitlines()[0] != "".join(
        bytes(t).hex() + " " for layer in model_module.load(str(model)).layers if layer.weight is not None
        for t in (layer.weight, layer.bias)), "training changed nothing: the test would prove nothing"


def middle_budget(model, settings, batch):
    """An arena budget halfway between the lean and the fast plan's, which the trainer meets
    with a lean plan that keeps some restart tensors."""
    parser = {}
    exec(SETTINGS_PARSER, parser)
    kwargs = parser["trainer_settings"](settings)
    fast, lean = (Trainer(model_module.load(str(model)), batch=batch, plan=plan, **kwargs).model.planned
                  for plan in ("fast", "lean"))
    budget = (fast + lean) // 2
    t = Trainer(model_module.load(str(model)), batch=batch, plan=budget, **kwargs)
    assert t.plan_choice.startswith("lean, keeping tensors") and t.model.planned <= budget, t.plan_choice
    return budget


def test_zo_trains_a_layer_inside_a_residual_block(board, tmp_path):
    """small's conv 9 feeds the add at 10, whose other input (tensor 8) comes from before layer 9:
    re-running from layer 9 needs it kept, as sparse training may choose any layer."""
    assert_trains_alike(board, tmp_path, SMALL, "mode=wp,layers=4/9,queries=2")


def test_negative_layers_count_the_weighted_layers_from_the_end():
    # small's last two layers with weights are 12 and 14: the global average pool 13 has none.
    t = Trainer(model_module.load(str(SMALL)), mode="np", layers=[-2, -1])
    assert sorted(layer.layer.index for layer in t.zo_layers) == [12, 14]


def test_np_of_a_layer_before_a_global_pool_trains_alike_on_board_and_host(board, tmp_path):
    """small's pointwise 12 feeds only the global average pool 13: its queries perturb the pool's
    128 outputs, not the 4x4x128 it makes."""
    t = Trainer(model_module.load(str(SMALL)), mode="np", layers=[12], queries=2)
    assert (t.zo_layers[0].restart_point, t.zo_layers[0].perturbed_nodes) == (14, 128)
    assert_trains_alike(board, tmp_path, SMALL, "mode=np,layers=12/14,queries=4")


def test_a_layer_takes_its_loss_differences_against_the_updates_above_it(tmp_path):
    """In a step the classifier (14) is updated before pointwise 12 estimates its gradient: each
    of 12's loss differences is its perturbed loss less the loss of the network with the new
    classifier and 12 as it was, not less the step's first loss, which would add the classifier's
    own update to every query."""
    from mcutrain.backend import kernels

    data = tmp_path / "samples.bin"
    corrupted_samples(data, 2)
    raw = data.read_bytes()
    m = model_module.load(str(SMALL))
    x, y = bytearray(raw[:2 * m.input_size]), bytearray(raw[2 * m.input_size:])
    t = Trainer(m, mode="np", layers=[12, 14], queries=3, batch=2, lr=0.3)
    pointwise, loss = t.zo_layers[1], t.loss
    loss.set_labels(y)
    loss(m.infer(x))
    first = list(loss.per_sample)
    weight, bias = bytes(m.layers[12].weight), bytes(m.layers[12].bias)
    t.step(x, y)
    m.layers[12].weight[:] = weight
    memoryview(m.layers[12].bias).cast("B")[:] = bias
    loss(m.infer(x))
    base = list(loss.per_sample)
    assert base != first, "the classifier's update changed no loss: the test would prove nothing"
    pooled = m.activation(14)
    mask = bytearray(16)
    for q in range(3):
        seeds = pointwise.seeds[2 * q:2 * q + 2]
        for b in range(2):
            kernels.perturb(pooled[128 * b:128 * (b + 1)], mask, seeds[b], t.act_sigma, 1)
        loss(m.forward(14))
        for b in range(2):
            kernels.unperturb(pooled[128 * b:128 * (b + 1)], mask, seeds[b], t.act_sigma, 1)
        assert list(pointwise.coeffs[2 * q:2 * q + 2]) == [loss.per_sample[b] - base[b] for b in range(2)]



@pytest.mark.parametrize("settings", [{"mode": "mix"}, {"mode": "wp"}, {"method": "hybrid"}])
def test_a_base_loss_from_an_intact_tensor_is_the_loss_from_the_layers_start(tmp_path, settings):
    """After the layers above it, a ZO layer of a fast plan measures the network's loss from the
    input of the layer updated last (its own stage: mcutrain.zo.LayerZO.plan) instead of re-running
    the layers between, whose tensors would come out the same: the same bytes as from its start."""
    data = tmp_path / "samples.bin"
    corrupted_samples(data, 4)
    raw = data.read_bytes()
    weights = []
    for shortcut in (True, False):
        m = model_module.load(str(TINY))
        t = Trainer(m, queries=3, **settings)
        layers = [layer for layer in t.zo_layers if layer.base_from is not None]
        assert layers, "no layer measures its base loss apart: the test would prove nothing"
        if not shortcut:
            for layer in layers:
                layer.base_from = None
        for s in range(2):
            t.step(raw[s * m.input_size:(s + 1) * m.input_size], raw[4 * m.input_size + s:4 * m.input_size + s + 1])
        weights.append([bytes(layer.weight) + bytes(layer.bias) for layer in m.layers if layer.weight is not None])
    assert weights[0] == weights[1]

NO_ALLOCATION = SETTINGS_PARSER + """
import gc, sys
from mcutrain import model
from mcutrain.trainer import Trainer

m = model.load(sys.argv[1])
t = Trainer(m, batch=2, **trainer_settings(sys.argv[3]))
size = m.input_size
with open(sys.argv[2], "rb") as f:
    data = f.read()
count = len(data) // (size + 1)
images, labels = memoryview(data)[:count * size], memoryview(data)[count * size:]
batches = [(images[i * size:(i + 2) * size], labels[i:i + 2]) for i in range(0, count - 1, 2)]

def measure():
    # Locals only: a new module global would grow the globals dict inside the measurement.
    for x, y in batches[:3]:
        t.step(x, y)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for s in range(100):
        x, y = batches[s % len(batches)]
        t.step(x, y)
    after = gc.mem_alloc()
    gc.enable()
    return after - before

print(measure())
"""


@pytest.mark.parametrize("mode,layers", [("wp", "0/2/4/6"), ("np", "4/6"), ("np", "4/6,standardize=1")])
def test_a_step_allocates_nothing_on_the_board(board, tmp_path, mode, layers):
    assert_allocates_nothing(board, tmp_path, TINY, f"mode={mode},layers={layers},queries=3")


SMALL_HEAP = SETTINGS_PARSER + """
import sys
from mcutrain import model
from mcutrain.trainer import Trainer

path, data_path, settings, select = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
m = model.load(path)
t = Trainer(m, **trainer_settings(settings))
# Samples stream through one planned buffer, as they arrive on a board.
x, y = bytearray(784), bytearray(1)
with open(data_path, "rb") as f:
    for i in range(16):
        f.seek(i * 784)
        f.readinto(x)
        f.seek(16 * 784 + i)
        f.readinto(y)
        if select and i == 0:
            print(t.select_layers(x, y, select))
        t.step(x, y)
print(t.memory())
"""

@pytest.mark.parametrize("model,settings,select,heap", [
    (TINY, "mode=wp,queries=10", 0, 128),  # every layer of tiny
    (TINY, "method=fqt,lr=0.003", 0, 160),  # the last two layers
    # Planned for the last layer first, then for the two layers with the best gradient-norm ratio.
    (SMALL, "mode=wp,queries=10,layers=14", 2, 192),
], ids=["tiny-zo-128k", "tiny-fqt-160k", "small-sparse-zo-192k"])
def test_training_fits_a_board_sized_heap(board, tmp_path, model, settings, select, heap):
    """Package, model, arena and training state all in the heap of a small board; the step
    count and the memory report come from the run itself."""
    data = tmp_path / "samples.bin"
    corrupted_samples(data, 16)
    program = tmp_path / "small_heap.py"
    program.write_text(SMALL_HEAP)
    out = board.run_file(program, heap=f"{heap}K", args=[model, data, settings, select]).splitlines()
    report = eval(out[-1])
    assert report["heap"] < heap * 1024
    assert 0 < report["total"] < report["heap"], "the report counts more than the heap holds"
    if select:
        assert len(eval(out[0])) == select


SELECT = """
import sys
from mcutrain import model
from mcutrain.trainer import Trainer

m = model.load(sys.argv[1])
t = Trainer(m, mode="wp", queries=4, batch=4, layers=[len(m.layers) - 1])
with open(sys.argv[2], "rb") as f:
    data = f.read()
print(t.select_layers(memoryview(data)[:4 * 784], memoryview(data)[64 * 784:64 * 784 + 4], 2, queries=8))
print(t.stats()["layers"])
"""


@pytest.mark.parametrize("model", [TINY, SMALL], ids=["tiny", "small"])
def test_layer_selection_is_the_same_on_board_and_host(board, tmp_path, model):
    data = tmp_path / "samples.bin"
    corrupted_samples(data, 64)
    program = tmp_path / "select.py"
    program.write_text(SELECT)
    on_board = board.run_file(program, heap="512K", args=[model, data])
    env = {"PYTHONPATH": str(micropython.device_path())}
    proc = subprocess.run([sys.executable, str(program), str(model), str(data)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    weighted = {layer.index for layer in model_module.load(str(model)).layers if layer.weight is not None}
    chosen = eval(on_board.splitlines()[0])
    assert len(chosen) == 2 and set(chosen) <= weighted
    assert on_board == proc.stdout
