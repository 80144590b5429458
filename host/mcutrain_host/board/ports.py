"""`--port`: where the board is. `sim` is the virtual board (started by the tool, over a pipe;
`sim-pty` over a pseudo-terminal); `qemu-m0`, `qemu-m3`, `qemu-m4` are emulated Cortex-M boards
(started by the tool, files deployed as a ROM image), and `qemu-m0-frozen` etc. the same with
mcutrain built into their firmware; anything else is a serial device with mcutrain deployed."""

import argparse
from pathlib import Path

from mcutrain_host.board import deploy, qemu, transports
from mcutrain_host.board.link import LinkDown

SIMULATED = ("sim", "sim-pty")
BOARD_CHECKPOINT = "/mcutrain.ckpt"
# The virtual board's, relative to its flash folder (its working directory): RUN/board.ckpt for a
# run, and the same string, as the same heap, at deploy's check.
SIM_CHECKPOINT = "../board.ckpt"


def add_port_arguments(p):
    p.add_argument("--port", default="sim", type=port_name,
                   help="sim: the virtual board (MicroPython's unix port, started here); sim-pty: the "
                        "same behind a pseudo-terminal; qemu-m0 (Cortex-M0, the RP2040 stand-in), qemu-m3, "
                        "qemu-m4 (Cortex-M4F, the STM32F4 stand-in): emulated boards started here, and "
                        "qemu-m0-frozen, qemu-m3-frozen, qemu-m4-frozen: the same with the package and qnn "
                        "built into the firmware; or a "
                        "serial device such as /dev/ttyACM0 with mcutrain deployed (default: %(default)s)")
    p.add_argument("--heap", default="256K", action=HeapOption, type=heap_size,
                   help="the board's GC heap: the virtual board's (default: %(default)s), or an emulated "
                        f"board's (default: {qemu.DEFAULT_HEAP // 1024}K; firmware for another heap is built "
                        "on its first use, in about 20 s; qemu-m0 holds up to "
                        f"{qemu.MAX_HEAP['microbit'] // 1024}K)")
    p.set_defaults(heap_given=False)


def port_name(text):
    """--port's type: a qemu-* name must be one of the emulated boards, not taken for a serial path."""
    if text.startswith("qemu") and text not in qemu.BOARDS:
        raise argparse.ArgumentTypeError(f"{text} is no emulated board; those are {', '.join(qemu.BOARDS)}")
    return text


class HeapOption(argparse.Action):
    """--heap that remembers being given: an emulated board's default heap is its firmware's, not
    the virtual board's."""

    def __call__(self, parser, namespace, value, option_string=None):
        namespace.heap, namespace.heap_given = value, True


def heap_size(text):
    """--heap's type: the text as given (the virtual board's `-X heapsize` takes it so), if a size."""
    try:
        qemu.heap_bytes(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def check_serial(port):
    """LinkDown at once for a serial device that is not there, rather than after the attempts that
    wait for a board to come back from a reset (a name such as COM3 is no path: only opening it tells)."""
    if Path(port).is_absolute() and not Path(port).exists():
        raise LinkDown(f"{port} does not exist: `mcutrain boards` lists the serial ports")


def qemu_heap(args):
    """The heap in bytes of the emulated board args.port: --heap, or its firmware's default;
    DeployError if the board's RAM cannot hold it."""
    if not args.heap_given:
        return qemu.DEFAULT_HEAP
    heap = qemu.heap_bytes(args.heap)
    limit = qemu.MAX_HEAP[qemu.BOARDS[args.port].machine]
    if not 16 * 1024 <= heap <= limit:
        raise deploy.DeployError(f"--heap {args.heap}: {args.port} holds a heap of 16K to {limit // 1024}K")
    return heap - heap % 4  # the firmware's heap is an array of words


def heap_advice(port, heap, info, need):
    """What to tell when a plan does not fit an emulated board: the --heap that holds it by the
    estimate (measured on the 64-bit virtual board, so it holds it on a 32-bit one too), or the
    largest its RAM takes, where the board itself tells."""
    wanted = sum(need.values()) + heap - info.free  # the plan and what the board holds before it
    kb = -(-wanted // (16 * 1024)) * 16 + 16  # rounded up to 16K, and 16K to spare
    limit = qemu.MAX_HEAP[qemu.BOARDS[port].machine]
    if kb * 1024 <= limit:
        return f" ({port}'s heap is {heap // 1024}K: --heap {kb}K holds the plan)"
    return f" ({port}'s heap is {heap // 1024}K; --heap sets up to {limit // 1024}K, and the board tells if that holds it)"


def virtual_heap_note(heap):
    return f" (the virtual board's heap is {heap}: --heap)"


def deploy_virtual(heap, model, flash, settings):
    """Checks and fills the virtual board's flash folder as `mcutrain deploy` fills a board;
    returns (board, {server, natmod} bytes estimated, the plan's arena in bytes)."""
    board = deploy.probe_virtual(heap)
    tree = deploy.files(board.arch, model)
    need, arena = deploy.plan_need(model, settings, board.arch, board.free)
    deploy.check_fit(board, need, arena, virtual_heap_note(heap))
    deploy.to_folder(flash, tree)
    return board, need, arena


class PlanFit:
    """fit(info) for a board's transport: the arena of the plan the board will make for its free
    heap (deploy.plan_need), or DeployError where that cannot fit (deploy.check_fit). Measured
    on the first start only; `need`, `arena`, `info` and `heap_note` keep the figures for a
    refusal by the board itself. arch_of(info): the natmod's arch, the board's own by default
    (None where qnn is in the firmware)."""

    def __init__(self, model, settings, arch_of=lambda info: info.arch, weights_in_flash=False,
                 advice=lambda info, need: ""):
        self.model, self.settings, self.arch_of = model, settings, arch_of
        self.weights_in_flash, self.advice = weights_in_flash, advice
        self.need = self.arena = None

    def __call__(self, info):
        if self.need is None:
            need, self.arena = deploy.plan_need(self.model, self.settings, self.arch_of(info), info.free,
                                                self.weights_in_flash)
            self.info, self.heap_note = info, self.advice(info, need)
            deploy.check_fit(info, need, self.arena, self.heap_note)
            self.need = need
        return self.arena


def connector(args, model, run_dir, settings):
    """connect(previous transport or None) -> a transport with the server running: the first
    connection, and every reconnection after a reset. For the virtual board this deploys first."""
    if args.port in SIMULATED:
        run_dir = Path(run_dir).resolve()
        arena = deploy_virtual(args.heap, model, run_dir / "flash", settings)[2]

        def connect(previous):
            if previous is None:
                return transports.VirtualBoard(run_dir / "flash", SIM_CHECKPOINT, heap=args.heap,
                                               pty=args.port == "sim-pty", arena=arena)
            previous.restart()
            return previous
    elif args.port in qemu.BOARDS:
        heap = qemu_heap(args)
        image = qemu.deploy_image(args.port, model, Path(run_dir) / "romfs.img")

        fit = PlanFit(model, settings, arch_of=lambda info: qemu.natmod_arch(args.port), weights_in_flash=True,
                      advice=lambda info, need: heap_advice(args.port, heap, info, need))

        def connect(previous):
            if previous is not None:
                previous.restart()
                return previous
            return qemu.QemuBoard(args.port, image, flash=Path(run_dir) / "flash", heap=heap, fit=fit)
    else:
        check_serial(args.port)
        fit = PlanFit(model, settings)

        def connect(previous):
            if previous is None:
                return transports.SerialBoard(args.port, None, BOARD_CHECKPOINT, fit=fit)
            previous.restart()
            return previous
    return connect
