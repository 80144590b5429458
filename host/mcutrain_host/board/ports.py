"""`--port`: where the board is. `sim` is the virtual board (started by the tool, over a pipe;
`sim-pty` over a pseudo-terminal); `qemu-m0`, `qemu-m3`, `qemu-m4` are emulated Cortex-M boards
(started by the tool, files deployed as a ROM image); anything else is a serial device with
mcutrain deployed."""

from pathlib import Path

from mcutrain_host.board import deploy, qemu, transports

SIMULATED = ("sim", "sim-pty")
BOARD_MODEL = "/model.mcut"  # where `mcutrain deploy` puts the model on a real board
BOARD_CHECKPOINT = "/mcutrain.ckpt"


def add_port_arguments(p):
    p.add_argument("--port", default="sim",
                   help="sim: the virtual board (MicroPython's unix port, started here); sim-pty: the "
                        "same behind a pseudo-terminal; qemu-m0 (Cortex-M0, the RP2040 stand-in), qemu-m3, "
                        "qemu-m4 (Cortex-M4F, the STM32F4 stand-in): emulated boards started here; or a "
                        "serial device such as /dev/ttyACM0 with mcutrain deployed (default: %(default)s)")
    p.add_argument("--heap", default="256K", help="the virtual board's heap (default: %(default)s)")


def deploy_virtual(heap, model, flash, settings):
    """Checks and fills the virtual board's flash folder as `mcutrain deploy` fills a board;
    returns (board, needed bytes)."""
    board = deploy.probe_virtual(heap)
    tree = deploy.files(board.arch, model)
    need = deploy.check_fit(board, deploy.needed(model, settings, board.arch), f" (the virtual board's heap is {heap}: --heap)")
    deploy.to_folder(flash, tree)
    return board, need


def connector(args, model, run_dir, settings):
    """connect(previous transport or None) -> a transport with the server running: the first
    connection, and every reconnection after a reset. For the virtual board this deploys first."""
    if args.port in SIMULATED:
        run_dir = Path(run_dir).resolve()
        deploy_virtual(args.heap, model, run_dir / "flash", settings)

        def connect(previous):
            if previous is None:
                return transports.VirtualBoard(run_dir / "flash", run_dir / "board.ckpt", heap=args.heap,
                                               pty=args.port == "sim-pty")
            previous.restart()
            return previous
    elif args.port in qemu.BOARDS:
        image = qemu.deploy_image(args.port, model, Path(run_dir) / "romfs.img")
        need = deploy.needed(model, settings, qemu.BOARDS[args.port].arch)

        def connect(previous):
            if previous is not None:
                previous.restart()
                return previous
            board = qemu.QemuBoard(args.port, image, flash=Path(run_dir) / "flash")
            try:
                deploy.check_fit(board.info, need, f" ({args.port}: `make qemu-boards QEMU_HEAP=...` sets it)")
            except deploy.DeployError:
                board.close()
                raise
            return board
    else:
        def connect(previous):
            if previous is None:
                return transports.SerialBoard(args.port, BOARD_MODEL, BOARD_CHECKPOINT)
            previous.restart()
            return previous
    return connect
