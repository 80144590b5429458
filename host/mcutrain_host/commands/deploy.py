"""mcutrain deploy: the device package, the natmod for the board and a model, onto a board."""

import argparse
import sys
import tempfile
from pathlib import Path

from mcutrain import link as protocol
from mcutrain import model as device_model
from mcutrain_host import settings as trainer_settings
from mcutrain_host.board import deploy, micropython, ports, qemu, transports
from mcutrain_host.commands import positive_int, train
from mcutrain_host.board.link import BoardError, Link, LinkDown
from mcutrain_host.board.session import built_with


def add_parser(subparsers):
    p = subparsers.add_parser(
        "deploy", help="put mcutrain, the natmod for the board and a model on a board",
        description="Ask the board for its architecture, .mpy ABI and free heap; pick the qnn natmod "
                    "built for it; size the training plan (the training options below) and refuse one "
                    "whose arena alone exceeds the free heap; copy the device package "
                    "(as .mpy), the natmod and the model (to /lib and /model.mcut); then start the "
                    "server, have it build the training plan in its arena as a run does, and confirm with "
                    "its hello: a plan the board cannot build is refused with its reason and the figures. "
                    "For --port sim the files go to the virtual board's flash folder (`mcutrain train --port sim` deploys by itself for each run); "
                    "for qemu-m0, qemu-m3 or qemu-m4 they become the ROM image the emulated board boots "
                    "with (build/<board>-deploy/romfs.img; train and eval build their own).",
        epilog="examples:\n  mcutrain deploy --port /dev/ttyACM0 --model models/tiny.mcut --method fqt\n"
               "  mcutrain deploy --port /dev/ttyACM0 --romfs --method zo\n"
               "  mcutrain deploy --port sim --heap 192K\n  mcutrain deploy --port qemu-m0 --method fqt\n"
               "  mcutrain deploy --port qemu-m0 --method fqt --batch 4 --heap 224K\n"
               "  mcutrain deploy --port qemu-m0 --method fqt --set fqt_layers=3",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ports.add_port_arguments(p)
    p.add_argument("--romfs", action="store_true",
                   help="for a board on a serial port whose firmware has a ROMFS partition: build one ROMFS image "
                        "of the package, the natmod and the model, and write it with `mpremote romfs deploy`; the "
                        "board mounts it at /rom, runs the bytecode in place and reads the frozen layers' weights "
                        "in place from flash, so they take no heap (the copies on its filesystem are removed). "
                        "An emulated board always boots from such an image")
    p.add_argument("--model", default=str(train.TINY), help="int8 model file (default: the committed tiny)")
    p.add_argument("--method", choices=tuple(trainer_settings.METHOD_DEFAULTS), default="zo",
                   help="the training plan to size (as for `mcutrain train`; default: %(default)s)")
    p.add_argument("--batch", type=positive_int, default=1,
                   help="the training plan to size (as for `mcutrain train`; default: %(default)s)")
    for name, kind in (("--mode", str), ("--layers", trainer_settings.layer_list), ("--queries", positive_int)):
        p.add_argument(name, type=kind, default=argparse.SUPPRESS,
                       help="the training plan to size (as for `mcutrain train`; default: the method's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a Trainer setting, as for `mcutrain train`; those that shape the plan (fqt_layers, "
                        "standardize, plan=fast|lean|BYTES, seed) size it; repeatable")
    p.set_defaults(run=run)


def plan(args):
    """The settings the trainer of `mcutrain train` with these flags is built with."""
    settings = trainer_settings.defaults(args.method)
    settings.update(batch=args.batch, **trainer_settings.given(args, ("mode", "layers", "queries")))
    settings.update(trainer_settings.set_flags(args.set))
    return built_with(settings)


def run(args):
    settings = plan(args)
    # A damaged file or a plan the board would refuse is one line from the host, not a board's traceback.
    trainer_settings.check(device_model.load(args.model), settings)
    try:
        if args.romfs and args.port in ports.SIMULATED:
            raise deploy.DeployError("the virtual board has no ROMFS partition: --romfs is for a board on a serial "
                                     "port (the emulated boards, --port qemu-m0 and the others, always boot from a "
                                     "ROMFS image)")
        if args.port in ports.SIMULATED:
            flash = micropython.build_dir() / "sim-flash"
            board, need, arena = ports.deploy_virtual(args.heap, args.model, flash, settings)
            heap_note = ports.virtual_heap_note(args.heap)
            where = f"the virtual board's flash ({flash}, heap {args.heap})"
            transport = transports.VirtualBoard(flash, ports.SIM_CHECKPOINT, heap=args.heap, arena=arena)
        elif args.port in qemu.BOARDS:
            # Flashing an emulated board is building its ROM image; the board booted from it checks the fit.
            folder = micropython.build_dir() / f"{args.port}-deploy"
            folder.mkdir(parents=True, exist_ok=True)
            transport = ports.connector(args, args.model, folder, settings)(None)
            fit = transport.fit
            board, need, arena, heap_note = fit.info, fit.need, fit.arena, fit.heap_note
            where = (f"{args.port} (QEMU, booted from {transport.image}: {transport.image.stat().st_size // 1024} KB "
                     f"of its {qemu.BOARDS[args.port].rom_limit // 1024} KB for files)")
        else:
            ports.check_serial(args.port)
            board, need, arena = deploy_serial(args.port, args.model, settings, args.romfs)
            heap_note, where = "", args.port + (" (its ROMFS partition, mounted at /rom)" if args.romfs else "")
            transport = transports.SerialBoard(args.port, None, ports.BOARD_CHECKPOINT, fit=lambda info: arena)
        try:
            link = Link(transport)
            # The verdict is the board's: the server builds the plan's trainer in its arena, as a run does.
            hello = deploy.confirm_plan(link, settings, board, need, arena, heap_note)
            link.request(protocol.BYE)
        finally:
            transport.close()
    except (deploy.DeployError, qemu.QemuError, BoardError, LinkDown) as e:
        print(f"mcutrain deploy: {e}", file=sys.stderr)
        return 1
    print(f"deployed to {where}: arch {board.arch}, .mpy ABI {board.abi}; before the server started "
          f"{board.free // 1024} KB of heap were free, and the board built the training plan in an arena of "
          f"{arena} bytes, leaving {int(hello['heap_free']) // 1024} KB free")
    print("the server, started, says: " + ", ".join(f"{k}={v}" for k, v in hello.items()))
    return 0


def deploy_serial(port, model, settings, romfs):
    """Copies the deploy tree to the board's filesystem, or with `romfs` writes it as one image to
    its ROMFS partition; returns (board, need, arena) as deploy.plan_need."""
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    try:
        repl = SerialTransport(port, baudrate=115200)
    except TransportError as e:
        raise deploy.DeployError(f"cannot open {port} ({e}); `mcutrain boards` lists the serial ports") from e
    with tempfile.TemporaryDirectory() as tmp:
        try:
            transports.take_back(repl.serial)
            repl.enter_raw_repl(soft_reset=True)
            board = deploy.parse_probe(repl.exec(deploy.PROBE).decode())
            tree = deploy.files(board.arch, model)
            partition = deploy.romfs_partition(repl.exec(deploy.ROMFS_PROBE).decode()) if romfs else 0
            need, arena = deploy.plan_need(Path(model), settings, board.arch, board.free, weights_in_flash=romfs)
            deploy.check_fit(board, need, arena)
            if romfs:
                image = deploy.romfs_image(tree, Path(tmp) / "mcutrain.romfs")
                if image.stat().st_size > partition:
                    raise deploy.DeployError(f"the ROMFS image takes {image.stat().st_size} bytes; the board's partition "
                                             f"holds {partition}. Pick a smaller model, or deploy without --romfs")
                for path in deploy.remove_files(repl, tree):
                    print(f"removed {path} from the board's filesystem: the copy in ROMFS replaces it")
            else:
                deploy.to_serial(repl, tree)
            repl.exit_raw_repl()
        finally:
            repl.close()
        if romfs:
            deploy.to_romfs(port, image)
    return board, need, arena
