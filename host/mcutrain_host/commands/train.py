"""mcutrain train: adapt a model on a board to a corruption, over the serial link."""

import argparse
import queue
import shutil
import sys
import threading
import time
from pathlib import Path

from mcutrain import model as device_model
from mcutrain.model_file import ModelError
from mcutrain_host import adaptation_data, corruptions, plot, settings as trainer_settings
from mcutrain_host.board import micropython, natmod, ports
from mcutrain_host.commands import add_dataset_arguments, positive_int
from mcutrain_host.board.deploy import DeployError
from mcutrain_host.board.link import BoardError, LinkDown
from mcutrain_host import metrics as metrics_module
from mcutrain_host.metrics import Metrics
from mcutrain_host.metrics import load as load_metrics
from mcutrain_host.progress import Progress
from mcutrain_host.board.session import Session, Stream, expected_checksum

# What a run's start record keeps of its arguments, for `--resume` to take up again.
RECORDED_ARGUMENTS = ("model", "dataset", "data_dir", "resize", "split", "corruption", "severity", "noise", "samples",
                      "guard", "epochs", "test", "eval_every", "checkpoint_every", "seed")

TINY = micropython.REPO / "models" / "tiny.mcut"
RUNS = micropython.REPO / "runs"  # where runs go without --out


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train", help="adapt a model on a board to corrupted images, over the serial link",
        description="Stream a dataset through a corruption to a board running mcutrain, which trains on "
                    "each sample as it arrives; evaluate on held-out corrupted images along the way. "
                    "Metrics go to OUT/metrics.jsonl and OUT/metrics.csv. While it runs, type "
                    "key=value and Enter (for example lr=0.005 or queries=20) to change a setting at "
                    "the next step; the change is recorded in the metrics.",
        epilog="examples:\n"
               "  mcutrain train --corruption gaussian_noise --severity 5 --samples 1000\n"
               "  mcutrain train --method fqt --lr 0.003 --set lmin=0.1 --set lmax=0.5\n"
               "  mcutrain train --port /dev/ttyACM0 --config settings.txt\n"
               "  mcutrain train --resume runs/20261122-101500",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_training_arguments(p)
    p.set_defaults(run=run)


def add_training_arguments(p):
    ports.add_port_arguments(p)
    p.add_argument("--model", default=str(TINY), help="int8 model file (default: the committed tiny)")
    add_dataset_arguments(p, "test")
    p.add_argument("--corruption", default="gaussian_noise", choices=("none",) + corruptions.NAMES,
                   metavar="NAME", help="see `mcutrain corrupt --list`; none for clean images (default: %(default)s)")
    p.add_argument("--severity", type=int, default=5, choices=range(1, 6), metavar="1-5",
                   help="corruption severity (default: %(default)s)")
    p.add_argument("--noise", type=float, default=0.0, metavar="STD",
                   help="gaussian noise of this standard deviation (pixel levels, 0-255) added after the "
                        "corruption; `make demo` uses 100 with --corruption none (default: %(default)s)")
    p.add_argument("--samples", type=positive_int, default=1000,
                   help="adaptation samples, from the training split (default: %(default)s)")
    p.add_argument("--guard", type=int, default=0, metavar="N",
                   help="do no harm: N more samples of the same draw that no step trains on; the board scores "
                        "the model on them before adapting and at every evaluation, keeps a state only when a "
                        "sign test says it beats the start, and ends the run with the best it kept "
                        "(docs/algorithms.md, section 4). 200 is a good size; whole batches (default: none)")
    p.add_argument("--epochs", type=positive_int, default=1, help="passes over the samples (default: %(default)s)")
    p.add_argument("--test", type=positive_int, default=1000,
                   help="held-out evaluation images, from --split (default: %(default)s)")
    p.add_argument("--eval-every", type=int, default=500, metavar="N",
                   help="evaluate after every N training samples, and before and after (default: %(default)s)")
    p.add_argument("--method", choices=tuple(trainer_settings.METHOD_DEFAULTS), default="zo",
                   help="zo: zeroth-order, by default node perturbation of the last two weighted layers with "
                        "30 queries and standardized updates (standardize=1); fqt: integer back-propagation of "
                        "the last two layers; hybrid: FQT for the last two, ZO below (default: %(default)s)")
    p.add_argument("--mode", choices=("wp", "np", "mix"), default=argparse.SUPPRESS,
                   help="how ZO perturbs: weights, nodes, or per layer whichever has fewer dimensions "
                        "(default: np for zo, mix for hybrid)")
    p.add_argument("--lr", type=float, default=argparse.SUPPRESS,
                   help="learning rate (default: %s)" % ", ".join(
                       f"{d['lr']} for {m}" for m, d in trainer_settings.METHOD_DEFAULTS.items()))
    p.add_argument("--queries", type=positive_int, default=argparse.SUPPRESS,
                   help="ZO perturbations per step and layer (default: 30 for zo, 10 for hybrid)")
    p.add_argument("--batch", type=positive_int, default=1, help="samples per step (default: %(default)s)")
    p.add_argument("--layers", type=trainer_settings.layer_list, default=argparse.SUPPRESS,
                   help="trainable layer indices, e.g. 4/6, or all; negative ones count the weighted layers "
                        "from the end, so --layers=-2/-1 are the last two and -1 is the classifier (default: "
                        "the last two for zo and fqt, every weighted layer for hybrid)")
    p.add_argument("--config", metavar="FILE", help="settings file: key = value lines (as --set takes them), "
                                                    "# comments; flags and --set win over it")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any Trainer setting (sigma, act_sigma, antithetic, standardize, lmin, lmax, fqt_layers, "
                        "schedule_name, plan=fast|lean|BYTES, ...); repeatable")
    p.add_argument("--checkpoint-every", type=int, default=20, metavar="STEPS",
                   help="board checkpoint interval in steps; a reset resumes from the last (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample choice and the corruption (default: %(default)s)")
    folder = p.add_mutually_exclusive_group()
    folder.add_argument("--out", metavar="DIR", help="a new folder for metrics (and the virtual board's checkpoints); "
                                                     "default: runs/<time>")
    folder.add_argument("--resume", metavar="RUN",
                        help="continue the interrupted run in folder RUN (Ctrl-C prints this command) from the "
                             "board's last checkpoint in that run, with the settings recorded in its metrics, "
                             "live changes included; of the flags above only --port and --heap count: give the "
                             "board it ran on. Its metrics files are appended to")


def settings_from(args, model):
    """The trainer settings: the method's defaults, then the config file, then the flags given,
    then --set; checked against the loaded `model` as the board's Trainer would check them."""
    settings = trainer_settings.defaults(args.method)
    if args.config:
        settings.update(trainer_settings.read_file(args.config))
    settings.update(method=args.method, batch=args.batch, schedule_name="cosine",
                    **trainer_settings.given(args, ("mode", "lr", "queries", "layers")))
    settings.update(trainer_settings.set_flags(args.set))
    trainer_settings.check(model, settings)
    return settings


def corrupted(args, split, count, seed, description):
    """count images of the split, corrupted, as the int8 bytes the model takes, and labels."""
    images, labels = adaptation_data.draw(args.dataset, args.data_dir, split, count, seed, args.corruption,
                                          args.severity, args.noise, resize=args.resize)
    return adaptation_data.model_inputs(images, description), labels


class LiveSettings:
    """key=value lines typed while the run goes on, handed over between steps."""

    def __init__(self, stream=sys.stdin):
        self.queue = queue.Queue()
        self.errors = []
        if stream is not None and not stream.closed:
            threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        try:
            for line in stream:
                line = line.strip()
                if line:
                    self.queue.put(line)
        except (OSError, ValueError):  # no readable stdin (a daemon, a test's capture): nothing to take
            pass

    def __call__(self):
        settings = {}
        while not self.queue.empty():
            line = self.queue.get()
            try:
                settings.update(trainer_settings.parse(line))
            except trainer_settings.SettingsError as e:
                print(f"\nignored {line!r}: {e} (type key=value, e.g. lr=0.005)", file=sys.stderr)
        return settings


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run that has records; args[0] is its folder, to resume."""


def adapt(args, label="adapting"):
    """Runs the adaptation, or with args.resume continues an interrupted one; returns a summary
    dict (also the last metrics record)."""
    earlier = interrupted_run(args.resume) if args.resume else []
    if earlier:
        vars(args).update(next(r for r in earlier if r["event"] == "start")["arguments"])
    model = device_model.load(args.model)
    description = model.description
    settings = metrics_module.settings_at_end(earlier) if earlier else settings_from(args, model)
    if "resume" in settings:
        raise ValueError("resume is no setting: `mcutrain train --resume RUN` continues an interrupted run")
    # The data first: a dataset that does not fit the model must not leave an empty run behind.
    if args.guard < 0:
        raise ValueError(f"--guard takes a number of samples, got {args.guard}")
    drawn_x, drawn_y = corrupted(args, "train", args.samples + args.guard, args.seed, description)
    train_x, train_y = drawn_x[:args.samples], drawn_y[:args.samples]
    test_x, test_y = corrupted(args, args.split, args.test, args.seed + 1, description)
    stream = Stream(train_x, train_y, test_x, test_y, args.epochs, settings["batch"], args.eval_every,
                    drawn_x[args.samples:], drawn_y[args.samples:])
    warn_if_trimmed(args, len(train_y), len(test_y), stream.total, settings["batch"])
    settings.setdefault("total_steps", stream.total // settings["batch"])  # the schedule spans the run
    out, created = run_folder(args)
    metrics = Metrics(out)
    start_record = {"event": "start", "settings": settings,
                    "arguments": dict({k: getattr(args, k) for k in RECORDED_ARGUMENTS},
                                      model=str(Path(args.model).resolve()))}
    bar = Progress(stream.total, label)
    recent_losses = []
    state = {"accuracy": None}

    def report(record):
        if not metrics.written and not earlier:  # with the run's first record, what --resume needs
            metrics(start_record)
        metrics(record)
        if record["event"] == "step":
            recent_losses.append(record["loss"])
            del recent_losses[:-50]
            shown = {"loss": sum(recent_losses) / len(recent_losses)}
            if state["accuracy"] is not None:
                shown["acc%"] = 100 * state["accuracy"]
            bar.set(record["samples"], **shown)
        elif record["event"] == "eval":
            state["accuracy"] = record["accuracy"]
            bar.note(f"eval after {record['samples']} samples: accuracy {100 * record['accuracy']:.1f}%")
        elif record["event"] == "set":
            bar.note(f"{record['key']}={record['value']}: " + (record.get("error") or "applied at the next step"))
        elif record["event"] == "reconnect":
            bar.note(f"reconnected ({record['reason']}); resuming after sample {record['resumed_at']}")
        elif record["event"] == "resume":
            bar.note(f"resumed after sample {record['resumed_at']}, the board's last checkpoint")

    try:
        session = Session(ports.connector(args, args.model, out, settings), settings, stream, report,
                          pending=LiveSettings(getattr(args, "stdin", sys.stdin)),
                          checkpoint_every=args.checkpoint_every, model_crc=model_identity(args.model),
                          elapsed=earlier[-1].get("t", 0.0) if earlier else 0.0)
        try:
            print(f"task: {args.dataset}, {describe(args)}; {stream.total} training samples, "
                  f"{stream.test_count} held-out images; run folder {out}", file=sys.stderr)
            print("type key=value + Enter (e.g. lr=0.005) to change a setting at the next step", file=sys.stderr)
            steps, samples, checksum = session.run(resume=bool(earlier))
            board_stats = session.stats()
        finally:
            session.close()
    except BaseException as e:
        metrics.close()
        if created and not metrics.written:  # failed before its first record: leave no empty run
            shutil.rmtree(out, ignore_errors=True)
        elif isinstance(e, KeyboardInterrupt):
            raise Interrupted(out) from None
        raise
    finally:
        bar.close()
    evals = {r["round"]: r["accuracy"] for r in earlier if r["event"] == "eval"}
    evals.update(session.evals)
    accuracies = [evals[r] for r in sorted(evals)]
    summary = {"event": "end", "t": session.elapsed(), "samples": samples, "steps": steps,
               "checksum": "%08x" % checksum, "expected_checksum": "%08x" % expected_checksum(stream.total),
               "accuracy_before": accuracies[0], "accuracy_after": accuracies[-1],
               "reconnects": session.reconnects + [r["event"] for r in earlier].count("reconnect"),
               "guard": session.kept, "board": session.board, "board_stats": board_stats, "link": session.link_stats,
               "settings": session.settings, "model": str(Path(args.model).resolve()),
               "corruption": args.corruption, "severity": args.severity, "noise": args.noise, "out": str(out)}
    metrics(summary)
    metrics.close()
    records = load_metrics(metrics.jsonl_path)
    plot.curves(records, out / "curves.png", f"{describe(args)}, {settings['method']}")
    return summary


def interrupted_run(folder):
    """The records of the run in `folder`, which must have started and not ended."""
    path = Path(folder) / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: --resume takes the folder of a `mcutrain train` run")
    records = load_metrics(path)
    events = [r.get("event") for r in records]
    if "end" in events:
        raise ValueError(f"{folder} has finished (its metrics end with the summary): there is nothing to resume")
    if "start" not in events:
        raise ValueError(f"{path} has no start record, so its settings are unknown: it cannot be resumed")
    return records


def run_folder(args):
    """(folder, made here): the run's folder, never one holding another run's files."""
    if args.resume:
        return Path(args.resume), False
    if not args.out:
        return new_run_folder(RUNS), True
    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()):
        raise ValueError(f"{out} holds a run already, and a run's files are never overwritten: choose another "
                         f"--out, or continue an interrupted run with `mcutrain train --resume {out}`")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    return out, created


def warn_if_trimmed(args, drawn, tested, total, batch):
    """Says on stderr where the run uses fewer samples than asked for."""
    if drawn < args.samples:
        print(f"warning: the {args.dataset} train split has {drawn} images: --samples {args.samples} uses {drawn}",
              file=sys.stderr)
    if tested < args.test:
        print(f"warning: the {args.dataset} {args.split} split has {tested} images: --test {args.test} uses {tested}",
              file=sys.stderr)
    if total < drawn * args.epochs:
        print(f"warning: {drawn * args.epochs} samples are not whole batches of {batch}: the run applies {total}",
              file=sys.stderr)


def new_run_folder(root):
    """runs/<time>, made here and now: a second run started in the same second gets <time>-2."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in [""] + [f"-{n}" for n in range(2, 1000)]:
        try:
            (root / (stamp + suffix)).mkdir()  # exclusive: exactly one run gets each name
            return root / (stamp + suffix)
        except FileExistsError:
            continue
    raise OSError(f"{root}: a thousand runs started in second {stamp}")


def model_identity(path):
    """The model's CRC-32 as the board's HELLO reports it (the file's last 4 bytes)."""
    return "%08x" % int.from_bytes(Path(path).read_bytes()[-4:], "little")


def describe(args):
    parts = [] if args.corruption == "none" else [f"{args.corruption} severity {args.severity}"]
    if args.noise:
        parts.append(f"gaussian noise std {args.noise:g}")
    return " + ".join(parts) or "clean images"


def print_summary(summary):
    before, after = summary["accuracy_before"], summary["accuracy_after"]
    board = summary["board"]
    arch = natmod.ARCH_NAMES.get(int(board.get("arch", 0)), board.get("arch"))
    print(f"board: {board.get('board')} ({board.get('kernels')} kernels, {arch}), heap in use "
          f"{summary['board_stats'].get('heap', '?')} bytes")
    print(f"accuracy before adaptation: {100 * before:.1f}%")
    print(f"accuracy after adaptation:  {100 * after:.1f}% ({100 * (after - before):+.1f} points, on the board)")
    kept = summary.get("guard")
    if kept:
        if kept["kept_step"]:
            print(f"guard: kept the state after step {kept['kept_step']}, {kept['kept_correct']} of {kept['count']} "
                  f"guard samples right ({kept['start_correct']} before adapting)")
        else:
            print(f"guard: kept the model as it was: no state beat its {kept['start_correct']} of {kept['count']} "
                  f"guard samples significantly")
    print(f"samples applied: {summary['samples']} in {summary['steps']} steps, checksum {summary['checksum']} "
          f"(expected {summary['expected_checksum']}), reconnects {summary['reconnects']}")
    link = summary["link"]
    print(f"link: {link.get('frames', 0)} frames, {link.get('retransmits', 0)} retransmitted, "
          f"{link.get('damaged_frames', 0)} damaged frames received")
    print(f"metrics: {summary['out']}/metrics.jsonl and metrics.csv; plot: {summary['out']}/curves.png")


def run(args):
    try:
        summary = adapt(args)
    except Interrupted as e:
        print(f"\nmcutrain train: interrupted; `mcutrain train --resume {e.args[0]}` continues the run",
              file=sys.stderr)
        return 130
    except BoardError as e:
        print(f"mcutrain train: the board refused: {e}", file=sys.stderr)
        return 1
    except (LinkDown, DeployError) as e:
        print(f"mcutrain train: {e}", file=sys.stderr)
        return 1
    except ModelError:
        raise  # a damaged model file is exit code 1, as cli.main says it for every command
    except ValueError as e:
        print(f"mcutrain train: {e}", file=sys.stderr)
        return 2
    print_summary(summary)
    return 0 if summary["checksum"] == summary["expected_checksum"] else 1
