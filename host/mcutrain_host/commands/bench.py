"""mcutrain bench: per-op and per-step latency and memory on the board (device: mcutrain.bench)."""

import argparse
import sys
import tempfile
from pathlib import Path

from mcutrain import model as device_model
from mcutrain.model_file import ModelError
from mcutrain.trainer import Trainer
from mcutrain_host import settings as trainer_settings
from mcutrain_host.board import deploy, micropython, ports, qemu, transports, virtual
from mcutrain_host.board.deploy import DeployError
from mcutrain_host.commands import positive_int

TINY = micropython.REPO / "models" / "tiny.mcut"
METHODS = ("zo", "fqt", "hybrid")
# Keys whose value is the rest of the line (it may hold spaces).
REST = ("board", "error")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "bench", help="per-op and per-step latency and memory on the board",
        description="Time the model on the board: every layer's kernel call (microseconds per batch, and "
                    "MAC/s for the weighted layers), inference per image, and a training step of each "
                    "method (after a warm-up step), with the heap in use and free and the bytes of the "
                    "model, its activation arena and the training buffers. The timing runs on the board "
                    "itself (mcutrain.bench, time.ticks_us); the input is a fixed pseudo-random pattern. On "
                    "qemu-m0/m3/m4 QEMU counts instructions (-icount): a microsecond there is 1000 "
                    "instructions of the emulated core.",
        epilog="examples:\n"
               "  mcutrain bench\n"
               "  mcutrain bench --method zo --mode np --queries 20 --batch 4 --heap 512K\n"
               "  mcutrain bench --port /dev/ttyACM0 --repeat 5 --steps 1\n"
               "  mcutrain bench --port qemu-m0 --method zo --mode np",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ports.add_port_arguments(p)
    p.add_argument("--model", help="int8 model file (default: the committed tiny); on a serial board a path "
                                   f"on the board (default: where `mcutrain deploy` put it, {' or '.join(deploy.BOARD_MODELS)})")
    p.add_argument("--method", action="append", choices=METHODS,
                   help="training method to time; repeatable (default: all of %s)" % ", ".join(METHODS))
    p.add_argument("--mode", choices=("wp", "np", "mix"), default="mix",
                   help="how ZO perturbs: weights, nodes, or per layer whichever has fewer (default: %(default)s)")
    p.add_argument("--batch", type=positive_int, default=1, help="samples per batch (default: %(default)s)")
    p.add_argument("--repeat", type=positive_int, default=20,
                   help="calls averaged per layer and for inference (default: %(default)s)")
    p.add_argument("--steps", type=positive_int, default=3,
                   help="training steps averaged per method, after one warm-up step (default: %(default)s)")
    p.add_argument("--queries", type=positive_int, help="ZO perturbations per step and layer (default: the "
                                                        "trainer's, 10)")
    p.add_argument("--layers", type=trainer_settings.layer_list,
                   help="trainable layer indices, e.g. 4/6 (default: the trainer's)")
    p.set_defaults(run=run)


def script(model, methods, mode="mix", batch=1, repeat=20, steps=3, settings=None, arena=0):
    """The MicroPython a board runs: mcutrain.bench on the model file `model` (a path there)."""
    return (f"import mcutrain.bench\n"
            f"mcutrain.bench.main({str(model)!r}, methods={tuple(methods)!r}, mode={mode!r}, batch={batch}, "
            f"repeat={repeat}, steps={steps}, settings={settings or {}!r}, arena={arena})\n")


def largest_arena(model, methods, mode, batch, settings):
    """The largest arena the bench's trainers plan, computed here: a plan's bytes are the same on
    every board. The board takes it first, before its heap breaks into holes."""
    sizes = [0]
    for method in methods:
        try:
            sizes.append(Trainer(device_model.load(str(model)), method=method, mode=mode, batch=batch,
                                 **settings).model.planned)
        except (ValueError, ModelError):
            pass  # the board reports the refusal in its own words
    return max(sizes)


def script_for(model, args, host_file=None):
    """script() with the command's options; `model` is the file's path on the board, host_file
    the same model here, which sizes the arena (none for a serial board: the board's own file
    may be another)."""
    settings = {}
    if args.queries:
        settings["queries"] = args.queries
    if args.layers:
        settings["layers"] = args.layers
    methods = args.method or METHODS
    arena = largest_arena(host_file, methods, args.mode, args.batch, settings) if host_file else 0
    return script(model, methods, args.mode, args.batch, args.repeat, args.steps, settings, arena)


def parse_line(line):
    """'layer 0 conv2d macs=1 us=2' -> (['layer', '0', 'conv2d'], {'macs': '1', 'us': '2'})."""
    words, fields = [], {}
    parts = line.split(" ")
    for i, part in enumerate(parts):
        key, sep, value = part.partition("=")
        if not sep:
            if not fields:
                words.append(part)
            continue
        if key in REST:
            fields[key] = " ".join([value] + parts[i + 1:])
            break
        fields[key] = value
    return words, fields


def number(text):
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse(output):
    """The bench lines of the board's output -> a report dict (None when no `bench` line came)."""
    report = {"layers": [], "steps": [], "memory": {}, "infer": None, "header": None, "complete": False}
    for line in output.splitlines():
        words, fields = parse_line(line.strip())
        if not words:
            continue
        kind = words[0]
        if kind == "bench":
            report["header"] = fields
        elif kind == "layer" and len(words) == 3:
            report["layers"].append({"index": int(words[1]), "op": words[2], "macs": int(fields["macs"]),
                                     "us": number(fields["us"])})
        elif kind == "infer":
            report["infer"] = {k: number(v) for k, v in fields.items()}
        elif kind == "memory":
            stage = fields.pop("stage")
            report["memory"][stage] = {k: number(v) for k, v in fields.items()}
        elif kind == "step" and len(words) == 2:
            step = {"name": words[1]}
            step.update((k, v if k == "error" else number(v)) for k, v in fields.items())
            report["steps"].append(step)
        elif kind == "end":
            report["complete"] = True
    return report if report["header"] is not None else None


def host_model(args):
    """The model file on the host: for the virtual and the emulated boards. Checked here: a damaged
    one is the host's one-line ModelError, not a board's traceback."""
    model = Path(args.model or TINY)
    if not model.exists():
        raise FileNotFoundError(f"{model}: no such model file")
    device_model.load(str(model))
    return model.resolve()


def on_virtual_board(code, heap):
    """(stdout, stderr) of a bench script on the virtual board."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.py"
        path.write_text(code)
        proc = virtual.run_script(path, heap=heap)
    return proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def run_virtual(args):
    model = host_model(args)
    return on_virtual_board(script_for(model, args, model), args.heap)


def run_qemu(args):
    """On an emulated board under -icount, where the bench's microseconds are QEMU's virtual ones:
    1000 instructions each (boards/qemu/time.py)."""
    model = host_model(args)
    try:
        heap = ports.qemu_heap(args)
    except DeployError as e:
        return "", str(e)
    with tempfile.TemporaryDirectory() as tmp:
        board = qemu.QemuBoard(args.port, qemu.deploy_image(args.port, model, Path(tmp) / "romfs.img"), serve=False,
                               icount=True, heap=heap)
        try:
            return board.exec(script_for("/rom/model.mcut", args, model), timeout=1800).decode(errors="replace"), ""
        except qemu.QemuError as e:
            return "", str(e)
        finally:
            board.close()


def run_serial(args):
    with transports.raw_repl(args.port, soft_reset=True) as board:
        # No output for a while is normal: a ZO step of a bigger model takes seconds on a Cortex-M0+.
        out, err = board.exec_raw(script_for(args.model or deploy.deployed_model(board), args), timeout=600)
    return out.decode(errors="replace"), err.decode(errors="replace")


def rate(macs, us):
    return f"{macs / us:.1f}" if macs and us > 0 else "-"


def show(report, args):
    header = report["header"]
    batch = int(header.get("batch", args.batch))
    if args.port in ports.SIMULATED:
        where = f"the virtual board (MicroPython unix port, {args.heap} heap)"
    elif args.port in qemu.BOARDS:
        where = (f"{header.get('board')}, emulated ({args.port}, QEMU -icount shift=0: a µs is 1000 instructions "
                 f"of the emulated core)")
    else:
        where = f"{header.get('board')} on {args.port}"
    print(f"{where}, {header.get('kernels')} kernels; batch {batch}, times are means of {header.get('repeat')} "
          f"calls (steps: {header.get('steps')}, after a warm-up step)")
    print()
    print(f"{'layer':>5}  {'op':<17} {'MACs':>9} {'µs':>9} {'MMAC/s':>8}")
    total_macs = total_us = 0
    for layer in report["layers"]:
        total_macs += layer["macs"]
        total_us += layer["us"]
        print(f"{layer['index']:>5}  {layer['op']:<17} {layer['macs'] or '-':>9} {layer['us']:>9.0f} "
              f"{rate(layer['macs'], layer['us']):>8}")
    print(f"{'all':>5}  {'':<17} {total_macs:>9} {total_us:>9.0f} {rate(total_macs, total_us):>8}")
    infer = report["infer"]
    if infer:
        us = infer["us"]
        per_image = us / batch
        print(f"\ninference: {us:.0f} µs per batch of {batch}, {per_image:.0f} µs per image "
              f"({1e6 / per_image if per_image else float('inf'):.0f} images/s)")
    if report["steps"]:
        print(f"\n{'training step':<14} {'µs/step':>9} {'µs/sample':>10} {'steps/s':>8}")
        for step in report["steps"]:
            if "error" in step:
                print(f"{step['name']:<14} failed: {step['error']}")
                continue
            us = step["us"]
            print(f"{step['name']:<14} {us:>9.0f} {us / batch:>10.0f} {1e6 / us if us else 0:>8.1f}")
    if report["memory"]:
        columns = ("heap_used", "heap_free", "weights", "params", "arena", "training", "total")
        print(f"\n{'memory (bytes)':<14} " + " ".join(f"{c.replace('_', ' '):>9}" for c in columns))
        for stage, fields in report["memory"].items():
            cells = []
            for c in columns:
                value = fields.get(c, "-")
                cells.append(f"{'-' if value == -1 else value:>9}")
            print(f"{stage:<14} " + " ".join(cells))
        print("(heap used/free: the whole GC heap after a collection, with the trainer alive; total: model "
              "weights, parameter blocks, arena and training buffers)")


def run(args):
    if args.port in ports.SIMULATED:
        output, errors = run_virtual(args)
    elif args.port in qemu.BOARDS:
        output, errors = run_qemu(args)
    else:
        output, errors = run_serial(args)
    report = parse(output)
    if report is None:
        print(f"mcutrain bench: the board did not run the bench:\n{output}{errors}".rstrip(), file=sys.stderr)
    else:
        show(report, args)
        if not report["complete"]:
            print(f"mcutrain bench: the bench stopped early:\n{errors or output}".rstrip(), file=sys.stderr)
    failed = report is None or not report["complete"] or any("error" in step for step in report["steps"])
    if failed and "MemoryError" in output + errors:
        print(f"mcutrain bench: the board ran out of heap. On sim and qemu-* boards --heap gives it more (qemu-m0 "
              f"holds up to {qemu.MAX_HEAP['microbit'] // 1024}K); or bench fewer layers (--layers), a smaller "
              f"batch or fewer queries", file=sys.stderr)
    return 1 if failed else 0
