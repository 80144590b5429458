"""mcutrain repl: the board's REPL with the last run's trainer bound to `t` (and its model to `m`)."""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from mcutrain_host.board import deploy, micropython, ports, qemu, transports, virtual
from mcutrain_host.run_folder import RunError, latest_run, run_settings
TINY = micropython.REPO / "models" / "tiny.mcut"

STARTUP = """\
from array import array
from mcutrain import model
from mcutrain.trainer import Trainer
m = model.load({model!r})
_crc = ''.join('%02x' % b for b in reversed(m.description.crc))
if {crc!r} and _crc != {crc!r}:
    print('mcutrain repl: warning: the run trained model %s, %s is model %s' % ({crc!r}, {model!r}, _crc))
t = Trainer(m, **{settings!r})
checksum = array('i', [0])
if t.resume({checkpoint!r}, (checksum,)):
    _how = 'resumed from %s at step %d (%d samples)' % ({checkpoint!r}, t.steps, t.samples)
    if t.schedule_name != 'constant' and t.steps >= t.total_steps:  # its schedule has run out: lr 0
        t.set(schedule_name='constant')
        _how += '; its %d-step schedule had ended, so t steps at lr=%s from here' % (t.total_steps, t.lr)
else:
    _how = 'NOT resumed (no valid checkpoint at %s): as in the model file' % {checkpoint!r}
print('mcutrain repl: m = model.load(%r); t = Trainer(m, %s) of run %s, %s; checksum: its sample-id CRC; '
      'try t.stats(), t.set(lr=...)' % ({model!r}, {shown!r}, {run!r}, _how))
del _crc, _how
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "repl", help="the board's REPL, with the last run's trainer resumed as `t`",
        description="Open the board's MicroPython REPL with the trainer of a training run at hand: the model "
                    "is loaded as `m`, a Trainer with the run's settings (as its metrics.jsonl records them "
                    "at its end, or where an interrupted run stopped, with the settings changed live "
                    "applied) is built as `t` and resumed "
                    "from the run's checkpoint, so you can look at t.stats() and t.memory(), step it, or "
                    "change its settings by hand. A finished run's schedule has brought its learning "
                    "rate to 0: `t` then steps at the run's lr with a constant schedule. On the virtual board the checkpoint is RUN/board.ckpt; "
                    f"on a serial board it is {ports.BOARD_CHECKPOINT} and the model the one deployed "
                    f"({' or '.join(deploy.BOARD_MODELS)}); "
                    "on an emulated board (qemu-m0, qemu-m3, qemu-m4) QEMU boots with the model and the "
                    "run's RUN/flash folder as /flash, where such a run keeps its checkpoints. "
                    "Leave with Ctrl-D (virtual board) or Ctrl-] (serial or emulated board).",
        epilog="examples:\n"
               "  mcutrain repl\n"
               "  mcutrain repl --run runs/20261122-101500\n"
               "  mcutrain repl --port /dev/ttyACM0",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ports.add_port_arguments(p)
    p.add_argument("--run", dest="run_dir", metavar="DIR",
                   help="the run folder (default: the newest finished or interrupted run under runs/; "
                        "folders of runs that failed before their first record are passed over)")
    p.add_argument("--model", help="the run's model file (default: the model its virtual board ran, RUN/flash/"
                                   "model.mcut, else the committed tiny; on a serial board a path on the board, "
                                   f"default the one deployed, {' or '.join(deploy.BOARD_MODELS)}; on an emulated board the run's model file)")
    p.set_defaults(run=run)


def startup(model, checkpoint, settings, crc, run_name):
    shown = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    return STARTUP.format(model=str(model), checkpoint=str(checkpoint), settings=settings, crc=crc or "",
                          run=str(run_name), shown=shown)


def run(args):
    try:
        run_dir = Path(args.run_dir) if args.run_dir else latest_run()
        if run_dir.name == "metrics.jsonl":
            run_dir = run_dir.parent
        settings, run_model, crc = run_settings(run_dir)
    except RunError as e:
        print(f"mcutrain repl: {e}", file=sys.stderr)
        return 1
    if args.port in ports.SIMULATED:
        flash = run_dir / "flash"  # what the run's virtual board ran: its package, natmod and model
        model = Path(args.model or (flash / "model.mcut" if (flash / "model.mcut").exists() else None)
                     or run_model or TINY).resolve()
        if not model.exists():
            raise FileNotFoundError(f"{model}: no such model file")
        code = startup(model, (run_dir / "board.ckpt").resolve(), settings, crc, run_dir)
        return repl_virtual(code, args.heap, flash if (flash / "lib").is_dir() else None)
    if args.port in qemu.BOARDS:
        model = Path(args.model or run_model or TINY)
        if not model.exists():
            raise FileNotFoundError(f"{model}: no such model file")
        code = startup("/rom/model.mcut", qemu.CHECKPOINT, settings, crc, run_dir)
        return repl_qemu(code, args.port, model, run_dir / "flash")
    return repl_serial(lambda model: startup(args.model or model, ports.BOARD_CHECKPOINT, settings, crc, run_dir),
                       args.port)


def repl_virtual(code, heap, flash=None):
    """The unix port's REPL (-i: inspect after the -c code) on this terminal; with `flash`, from
    the run's flash folder as its virtual board ran, else from the package in the build. It runs in
    this terminal's folder, so the files you name there (a model, samples) open as you typed them."""
    binary = micropython.unix_binary()
    if not binary.exists():
        raise FileNotFoundError(f"{binary} is missing: run `make micropython` (or set MPY_DIR)")
    if flash is not None:
        env = dict(os.environ, MICROPYPATH=str(flash.resolve() / "lib"))
    else:
        env = virtual.board_env()
    process = subprocess.Popen([str(binary), "-X", f"heapsize={heap}", "-i", "-c", code], env=env)
    # Ctrl-C belongs to the board (it interrupts running code there), not to this waiting parent.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return process.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def repl_qemu(code, port, model, flash):
    """Boots the emulated board with `model` and the run's /flash folder (its checkpoints), runs
    the startup code through the raw REPL, then hands QEMU's pty to mpremote's REPL; QEMU stops
    when that REPL is left."""
    with tempfile.TemporaryDirectory() as tmp:
        board = qemu.QemuBoard(port, qemu.deploy_image(port, model, Path(tmp) / "romfs.img"), flash=flash,
                               serve=False)
        try:
            try:
                sys.stdout.write(board.exec(code, timeout=120).decode(errors="replace").replace("\r\n", "\n"))
            except qemu.QemuError as e:
                print(f"mcutrain repl: the startup failed on the board (the REPL opens anyway):\n{e}", file=sys.stderr)
            board.repl.exit_raw_repl()
            board.repl.close()  # the pty is mpremote's from here
            board.repl = board.serial = None
            sys.stdout.flush()
            return subprocess.call([sys.executable, "-m", "mpremote", "connect", board.pty, "resume", "repl"])
        finally:
            board.close()


def repl_serial(code_for, port):
    """Runs the startup code, code_for(the model deployed on the board), through the raw REPL
    (after a soft reset), then mpremote's REPL."""
    with transports.raw_repl(port, soft_reset=True) as board:
        # a minute: loading a model and planning take a while on a board
        out, err = board.exec_raw(code_for(deploy.deployed_model(board)), timeout=60)
    sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
    if err:
        print(f"mcutrain repl: the startup failed on the board (the REPL opens anyway):\n"
              f"{err.decode(errors='replace')}", file=sys.stderr)
    sys.stdout.flush()
    # `resume`: no soft reset, so m and t stay bound.
    return subprocess.call([sys.executable, "-m", "mpremote", "connect", port, "resume", "repl"])
