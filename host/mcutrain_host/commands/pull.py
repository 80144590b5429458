"""mcutrain pull: the weights a board adapted, from its last checkpoint, as a model file."""

import argparse
import tempfile
from array import array
from pathlib import Path

from mcutrain import model as device_model
from mcutrain.model_file import ModelError
from mcutrain.trainer import Trainer
from mcutrain_host import model_file
from mcutrain_host.board import ports, qemu, transports
from mcutrain_host.run_folder import RunError, latest_run, run_settings

SLOTS = (".0", ".1")  # mcutrain.checkpoint's two files


def add_parser(subparsers):
    p = subparsers.add_parser(
        "pull", help="write the weights a board adapted (its last checkpoint) as a model file",
        description="Write the model a training run adapted as a model file: the run's model with the "
                    "trained weights and biases of the board's newest checkpoint (a finished run "
                    "checkpoints its last state, or with --guard the best state it kept). The run's "
                    "metrics give the trainer's settings, so the checkpoint is read by the same trainer "
                    "on the host, and the file is validated as the board validates one. `mcutrain eval`, "
                    "`deploy` and `export` take the result.",
        epilog="examples:\n  mcutrain pull -o adapted.mcut\n"
               "  mcutrain pull --port /dev/ttyACM0 --run runs/20261122-101500 -o adapted.mcut\n"
               "  mcutrain export adapted.mcut -o adapted.onnx",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", default="sim", type=ports.port_name,
                   help="the run's board: sim (its checkpoint is RUN/board.ckpt), an emulated board (RUN/flash), "
                        f"or a serial device, read over mpremote ({ports.BOARD_CHECKPOINT} on the board) "
                        "(default: %(default)s)")
    p.add_argument("--run", dest="run_dir", metavar="DIR",
                   help="the run folder (default: the newest finished or interrupted run under runs/)")
    p.add_argument("--model", help="the run's model file on this computer (default: the one the run recorded)")
    p.add_argument("-o", "--output", required=True, help="the model file to write (.mcut)")
    p.set_defaults(run=run)


def run(args):
    run_dir = Path(args.run_dir) if args.run_dir else latest_run()
    settings, run_model, crc = run_settings(run_dir)
    path = args.model or run_model
    if not path:
        raise RunError(f"{run_dir} does not record its model file: pass --model")
    model = device_model.load(path)
    model_crc = "".join("%02x" % b for b in reversed(model.description.crc))
    if crc and crc != model_crc:
        raise ModelError(f"{path} is model {model_crc}, but run {run_dir} trained model {crc}: pass the run's "
                         f"model with --model")
    trainer = Trainer(model, **settings)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = copy_checkpoint(args.port, run_dir, Path(tmp) / "board.ckpt")
        if not trainer.resume(str(checkpoint), (array("i", [0]),)):
            raise RunError(f"no valid checkpoint of run {run_dir} on {args.port}: it stopped before its first one")
    model_file.write(args.output, model.description)
    model_file.read(args.output)
    print(f"wrote {args.output}: {path} as run {run_dir} adapted it, after step {trainer.steps} "
          f"({trainer.samples} samples)")
    return 0


def copy_checkpoint(port, run_dir, local):
    """The run's checkpoint slots, copied to `local`.0/.1 (those that exist); returns `local`."""
    if port in ports.SIMULATED:
        folder, name = run_dir, "board.ckpt"
    elif port in qemu.BOARDS:
        folder, name = run_dir / "flash", Path(qemu.CHECKPOINT).name
    else:
        return read_from_board(port, ports.BOARD_CHECKPOINT, local)
    for slot in SLOTS:
        if (folder / (name + slot)).exists():
            (local.parent / (local.name + slot)).write_bytes((folder / (name + slot)).read_bytes())
    return local


def read_from_board(port, board_path, local):
    """Each checkpoint slot the board on serial `port` holds, read over mpremote into local.0/.1."""
    with transports.raw_repl(port, soft_reset=False) as board:
        for slot in SLOTS:
            try:
                data = board.fs_readfile(board_path + slot)
            except FileNotFoundError:  # a run that saved once has one slot
                continue
            (local.parent / (local.name + slot)).write_bytes(data)
    return local
