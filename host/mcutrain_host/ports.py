"""`--port`: where the board is. `sim` is the virtual board (started by the tool, over a pipe;
`sim-pty` over a pseudo-terminal); anything else is a serial device with mcutrain deployed."""

from pathlib import Path

from mcutrain_host import transports

SIMULATED = ("sim", "sim-pty")
BOARD_MODEL = "/model.mcut"  # where `mcutrain deploy` puts the model on a real board
BOARD_CHECKPOINT = "/mcutrain.ckpt"


def add_port_arguments(p):
    p.add_argument("--port", default="sim",
                   help="sim: the virtual board (MicroPython's unix port, started here); sim-pty: the "
                        "same behind a pseudo-terminal; or a serial device such as /dev/ttyACM0 with "
                        "mcutrain deployed (default: %(default)s)")
    p.add_argument("--heap", default="256K", help="the virtual board's heap (default: %(default)s)")


def connector(args, model, run_dir):
    """connect(previous transport or None) -> a transport with the server running: the first
    connection, and every reconnection after a reset."""
    if args.port in SIMULATED:
        checkpoint = Path(run_dir) / "board.ckpt"

        def connect(previous):
            if previous is None:
                return transports.VirtualBoard(model, checkpoint, heap=args.heap, pty=args.port == "sim-pty")
            previous.restart()
            return previous
    else:
        def connect(previous):
            if previous is None:
                return transports.SerialBoard(args.port, BOARD_MODEL, BOARD_CHECKPOINT)
            previous.restart()
            return previous
    return connect
