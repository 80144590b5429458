"""mcutrain demo: the main job on the virtual board, end to end.

The committed int8 model meets images it was not trained for (Fashion-MNIST with strong gaussian
noise) and adapts to them on the virtual board (MicroPython's unix port with an RP2040-sized heap,
the qnn natmod) with zeroth-order training; accuracy on held-out noisy images before and after.
Until the serial link exists, the samples reach the board as a file.
"""

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from mcutrain import model as device_model
from mcutrain_host import datasets, micropython
from mcutrain_host.commands import add_dataset_arguments, positive_int
from mcutrain_host.progress import Progress
from mcutrain_host.quantize import quantize_images

# Runs on the board: argv = model, adaptation file, test file, epochs, batch, total steps, mode,
# lr, queries. A file is blocks
# of `batch` images then their `batch` labels, read into one planned buffer: samples stream in as
# they would over the link, never all in RAM. Prints "before CORRECT", "memory USED HEAP",
# "step LOSS_Q16" per step, "epoch E CORRECT".
BOARD_PROGRAM = """
import gc, sys
from mcutrain import model
from mcutrain.trainer import Trainer

path, train_path, test_path = sys.argv[1], sys.argv[2], sys.argv[3]
epochs, batch, steps = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
mode, lr, queries = sys.argv[7], float(sys.argv[8]), int(sys.argv[9])
m = model.load(path)
t = Trainer(m, batch=batch, mode=mode, lr=lr, queries=queries, schedule_name="cosine", total_steps=steps)
block = bytearray(batch * (m.input_size + 1))
x, y = memoryview(block)[:batch * m.input_size], memoryview(block)[batch * m.input_size:]

def blocks(file_path):
    with open(file_path, "rb") as f:
        while f.readinto(block) == len(block):
            yield x, y

def accuracy():
    return sum(t.evaluate(images, labels) for images, labels in blocks(test_path))

print("before", accuracy())
gc.collect()
print("memory", t.memory()["total"], gc.mem_alloc() + gc.mem_free())
for epoch in range(epochs):
    for images, labels in blocks(train_path):
        print("step", t.step(images, labels))
    print("epoch", epoch, accuracy())
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "demo", help="adapt the committed int8 model to noisy images on the virtual board",
        description="Deploy the committed int8 model to the virtual board, measure its accuracy on "
                    "noisy held-out images, adapt it on the board with zeroth-order training "
                    "(weight perturbation for early layers, node perturbation for later ones), "
                    "and measure again. `make demo` runs this.",
        epilog="example: mcutrain demo --noise 100 --epochs 2 --lr 0.001")
    p.add_argument("--model", default=str(micropython.REPO / "models" / "tiny.mcut"),
                   help="int8 model file (default: the committed tiny)")
    add_dataset_arguments(p, "test")
    p.add_argument("--noise", type=float, default=100.0,
                   help="standard deviation of the gaussian noise, in pixel levels 0-255 (default: %(default)s)")
    p.add_argument("--samples", type=positive_int, default=1000, help="adaptation samples (default: %(default)s)")
    p.add_argument("--test", type=positive_int, default=1000, help="held-out test images (default: %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=2, help="passes over the samples (default: %(default)s)")
    p.add_argument("--batch", type=positive_int, default=1,
                   help="samples per step; activations grow with it (default: %(default)s)")
    p.add_argument("--mode", choices=("wp", "np", "mix"), default="mix",
                   help="weight perturbation, node perturbation, or per layer whichever has fewer "
                        "dimensions (default: %(default)s)")
    p.add_argument("--lr", type=float, default=0.001, help="learning rate (default: %(default)s)")
    p.add_argument("--queries", type=positive_int, default=10,
                   help="perturbations per step and layer (default: %(default)s)")
    p.add_argument("--heap", default="256K", help="the virtual board's heap (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise and the sample choice (default: %(default)s)")
    p.set_defaults(run=run)


def noisy_blocks(images, labels, count, batch, noise, rng, description):
    """count noisy images (a multiple of batch) as the board reads them: blocks of `batch` int8
    images followed by their labels."""
    pick = rng.choice(len(images), count - count % batch, replace=False)
    noisy = np.clip(images[pick] + rng.normal(0, noise, images[pick].shape), 0, 255).astype(np.uint8)
    x = quantize_images(noisy, description.input_scale, description.input_zero_point).reshape(-1, batch, noisy[0].size)
    y = labels[pick].astype(np.uint8).reshape(-1, batch)
    return b"".join(xb.tobytes() + yb.tobytes() for xb, yb in zip(x, y))


def run(args):
    description = device_model.load(args.model).description
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        train, test, program = Path(tmp) / "train.bin", Path(tmp) / "test.bin", Path(tmp) / "adapt.py"
        train.write_bytes(noisy_blocks(*datasets.load(args.dataset, "train", args.data_dir), args.samples,
                                       args.batch, args.noise, rng, description))
        test.write_bytes(noisy_blocks(*datasets.load(args.dataset, args.split, args.data_dir), args.test,
                                      args.batch, args.noise, rng, description))
        program.write_text(BOARD_PROGRAM)
        steps = args.epochs * (args.samples // args.batch)
        command = [str(micropython.unix_binary()), "-X", f"heapsize={args.heap}", str(program), args.model,
                   str(train), str(test), str(args.epochs), str(args.batch), str(steps), args.mode,
                   repr(args.lr), str(args.queries)]
        print(f"virtual board: MicroPython {micropython.VERSION} unix port, heap {args.heap}, qnn natmod (x64)")
        print(f"task: {args.dataset} with gaussian noise (std {args.noise:g}), {args.samples} adaptation samples, "
              f"{args.test} held-out test images")
        with subprocess.Popen(command, env=micropython.board_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) as board:
            results = follow(board, steps, args)
        if board.returncode != 0:
            print("the board stopped with an error:\n" + results["output"])
            return 1
    before, after = results["before"], results["after"]
    print(f"accuracy before adaptation: {100 * before / args.test:.1f}%")
    print(f"accuracy after adaptation:  {100 * after / args.test:.1f}% "
          f"({100 * (after - before) / args.test:+.1f} points, on the board)")
    return 0


def follow(board, steps, args):
    """Shows the board's progress; returns what it reported."""
    results, output, bar = {"before": 0, "after": 0}, [], None
    for line in board.stdout:
        output.append(line)
        word, *values = line.split()
        if word == "before":
            results["before"] = results["after"] = int(values[0])
        elif word == "memory":
            print(f"board memory: model and training {int(values[0]) // 1024} KB of a {int(values[1]) // 1024} KB heap")
            bar = Progress(steps * args.batch, "adapting")
        elif word == "step" and bar:
            bar.update(args.batch, loss=int(values[0]) / 65536)
        elif word == "epoch":
            results["after"] = int(values[1])
            bar.close()
            print(f"epoch {int(values[0]) + 1}: accuracy {100 * int(values[1]) / args.test:.1f}%")
            if int(values[0]) + 1 < args.epochs:
                bar = Progress(steps * args.batch, "adapting")
                bar.done = (int(values[0]) + 1) * (args.samples // args.batch) * args.batch
    board.wait()
    results["output"] = "".join(output[-30:])
    return results
