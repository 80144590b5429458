"""Putting mcutrain on a board: the device package as .mpy, the qnn natmod for the board's arch
and ABI, and a model; after checking that the natmod exists and the training plan fits.

Whether a plan fits, the board decides: the deploying host starts the server with the plan's
arena (one allocation, the same bytes on every board) and has it build the trainer (CONFIG), as
every run does. Before copying, the host refuses only a plan that cannot fit for certain, whose
arena and natmod code alone exceed the free heap. The rest of a plan's heap is measured on the
64-bit virtual board, an over-estimate for a 32-bit board: it is advice, never the verdict.

A board's files: /lib/mcutrain/*.mpy, /lib/qnn.mpy, /model.mcut. The virtual board gets the same
tree in a folder of its own (its "flash"), so both run the same files the same way.
"""

import contextlib
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mcutrain_host.board import micropython, natmod, package, virtual
from mcutrain_host.board.session import built_with, format_settings

PROBE = "import gc, sys\ngc.collect()\nprint(sys.implementation._mpy, gc.mem_free(), gc.mem_alloc())\n"

# Heap the server needs, measured on the virtual board with the real package and plan.
PLAN = """
import gc, sys
gc.collect()
base = gc.mem_alloc()
from mcutrain import serve
from mcutrain.model import load
from mcutrain.link import Link, HEADER, MAX_TEXT
if sys.argv[3] == "flash":  # read in place from ROMFS on the board; here a bytes object stands in for the flash
    import io
    from mcutrain import model_file
    from mcutrain.model import Model
    data = open(sys.argv[1], "rb").read()
    base += len(data)
    m = Model(model_file.load(io.BytesIO(data), memoryview(data)))
else:
    m = load(sys.argv[1])
link = Link(sys.stdin.buffer, sys.stdout.buffer, HEADER + max(serve.SAMPLE_HEADER + m.input_size, MAX_TEXT))
s = serve.Server(m, link, None)
s.configure(sys.argv[2])
gc.collect()
print(base, gc.mem_alloc(), m.planned)
"""


UNIX_ARCHS = ("x64", "x86")


class DeployError(Exception):
    """Deployment refused; the message says what to do."""


class Board:
    """What a board reports: its natmod target and its free heap."""

    def __init__(self, mpy_word, free, used):
        self.version, self.sub_version, self.arch = natmod.board_target(mpy_word)
        self.abi = f"{self.version}.{self.sub_version}"
        self.free, self.used = free, used


def parse_probe(text):
    mpy_word, free, used = (int(v) for v in text.split()[-3:])
    return Board(mpy_word, free, used)


def probe_virtual(heap):
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "probe.py"
        script.write_text(PROBE)
        proc = virtual.run_script(script, heap=heap)
    if proc.returncode:
        raise DeployError(f"the virtual board did not start: {proc.stderr.decode(errors='replace')}")
    return parse_probe(proc.stdout.decode())


def files(arch, model):
    """[(source, path on the board)] for a board of `arch`; DeployError if no natmod fits."""
    qnn = natmod.natmod_for("qnn", arch) if arch else None
    if qnn is None:
        built = [a for a in natmod.SHIPPED_ARCHS if (micropython.natmod_dir(a) / "qnn.mpy").exists()]
        raise DeployError(f"no qnn natmod for this board (arch {arch or 'unknown'}, .mpy ABI "
                          f"{micropython.MPY_ABI}); built: {', '.join(built) or 'none'}. Run `make natmods` "
                          f"(or add the arch to ARCHS in the Makefile if MicroPython's dynruntime supports it)")
    root = package.compiled()
    tree = [(source, "lib/" + str(source.relative_to(root))) for source in sorted(root.rglob("*.mpy"))]
    return tree + [(qnn, "lib/qnn.mpy"), (Path(model), "model.mcut")]


def needed(model, settings, arch, weights_in_flash=False):
    """Heap bytes the server needs for the model and the plan: measured on the virtual board
    (64-bit objects, so an upper bound for a 32-bit board), package bytecode included, less
    what the interpreter holds before the server is imported (the probe's `used` counts that on
    the board); plus the natmod's code, which a bare-metal port copies into the heap (the unix
    port maps it outside). arch: the natmod's, None where qnn is in the board's firmware.
    weights_in_flash: the board reads the model in place from ROMFS, so only the weights of the
    layers the plan trains take heap. Returns ({server, natmod}, the plan's arena in bytes, the
    same on every board)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "plan.py"
        script.write_text(PLAN)
        proc = virtual.run_script(script, heap="2M", args=[str(model), format_settings(built_with(settings)),
                                                           "flash" if weights_in_flash else "ram"])
    if proc.returncode:
        raise DeployError("the training plan fails on the virtual board:\n" + proc.stderr.decode(errors="replace"))
    base, used, arena = (int(v) for v in proc.stdout.split())
    in_heap = arch is not None and arch not in UNIX_ARCHS and natmod.natmod_for("qnn", arch)
    return {"server": used - base, "natmod": in_heap.stat().st_size if in_heap else 0}, arena


def plan_need(model, settings, arch, free, weights_in_flash=False):
    """(need, arena) of the plan the board will make (`needed`): the one the settings ask for, or,
    left to the board, the fast one where it fits the free heap, else the lean one (the board's
    Trainer may then keep restart tensors in what the heap has beyond it)."""
    need, arena = needed(model, settings, arch, weights_in_flash)
    if "plan" in settings or sum(need.values()) <= free:
        return need, arena
    return needed(model, dict(settings, plan="lean"), arch, weights_in_flash)


def check_fit(board, need, arena, heap_note=""):
    """DeployError if the plan cannot fit for certain: its arena and the natmod's code take more
    than the board's free heap."""
    if arena + need["natmod"] > board.free:
        raise DeployError(refusal("the plan's arena and the natmod's code alone exceed the free heap", board, need,
                                  arena, heap_note))


def refusal(reason, board, need, arena, heap_note=""):
    """The message of a refused plan: why, then the figures and what to do."""
    total = sum(need.values())
    return (f"{reason}. The board has {board.free // 1024} KB free{heap_note}; the plan's arena takes "
            f"{arena // 1024} KB, the natmod's code {need['natmod'] // 1024} KB, and the model, the server and the "
            f"plan together about {total // 1024} KB as measured on the 64-bit virtual board. Train fewer layers "
            f"(--layers), a smaller batch or fewer queries, or pick a smaller model")


def confirm_plan(link, settings, board, need, arena, heap_note=""):
    """Opens a session with the started server and has it build the trainer of `settings` in its
    arena with the CONFIG a run sends first; returns its hello. DeployError with the board's
    reason and the figures if the server could not start or cannot build the plan (with
    mcutrain.serve.BUILD_MARGIN to spare), or the plan leaves less heap than a run needs beside
    it (mcutrain.serve.RUN_RESERVE). The server has the run's checkpoint path; it resumes rather
    than starts a run, which would remove the board's last checkpoint, and saves nothing."""
    from mcutrain import link as protocol
    from mcutrain_host.board.link import BoardError
    from mcutrain_host.board.session import parse_info

    def refused(what, error):
        return DeployError(refusal(f"the board could not {what} ({error})", board, need, arena, heap_note))

    try:
        link.hello()
    except BoardError as e:
        raise refused("start the server", e) from None
    try:
        return parse_info(link.request(protocol.CONFIG, format_settings(dict(built_with(settings), resume=1)).encode()))
    except BoardError as e:
        raise refused("build the training plan", e) from None


def romfs_image(tree, output):
    """A ROMFS image of [(source, path on the board)] (deploy.files) at `output`."""
    from mpremote.romfs import make_romfs

    with tempfile.TemporaryDirectory() as tmp:
        to_folder(Path(tmp) / "flash", tree)
        with contextlib.redirect_stdout(io.StringIO()):  # the builder lists every file it adds
            image = make_romfs(str(Path(tmp) / "flash"), mpy_cross=False)
    Path(output).write_bytes(image)
    return Path(output)


ROMFS_PROBE = """
import vfs
count = vfs.rom_ioctl(1) if hasattr(vfs, 'rom_ioctl') else 0
dev = vfs.rom_ioctl(2, 0) if count > 0 else None
print(0 if dev is None or isinstance(dev, int) else dev.ioctl(4, 0) * dev.ioctl(5, 0) if hasattr(dev, 'ioctl') else len(dev))
"""

NO_ROMFS = ("this board's firmware has no ROMFS partition (in MicroPython 1.25 some stm32 boards have one, rp2 "
            "firmware built with MICROPY_HW_ROMFS_BYTES, alif, and an esp8266 variant). Deploy without --romfs to "
            "copy the files to its filesystem, or build firmware with mcutrain frozen in, whose code and model "
            "stay in flash (README, \"A real board\")")


def romfs_partition(probe_output):
    """Bytes of the board's ROMFS partition 0, from what ROMFS_PROBE printed on it; DeployError if
    it has none."""
    size = int(probe_output.split()[-1])
    if size <= 0:
        raise DeployError(NO_ROMFS)
    return size


def to_romfs(port, image):
    """Writes a ROMFS image to the board's partition with `mpremote romfs deploy`; the board mounts
    it at /rom at its next reset."""
    proc = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "romfs", "deploy", str(image)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode or "ROMFS image deployed" not in proc.stdout:
        raise DeployError(f"mpremote romfs deploy failed on {port}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


REMOVE = """
import os
for path in {paths!r}:
    try:
        os.remove(path)
        print(path)
    except OSError:
        pass
"""


def remove_files(repl, tree):
    """Removes these files from the board's filesystem where they are; returns the paths removed.
    A ROMFS deploy does so: /lib and / come before /rom in sys.path and the model search."""
    paths = ["/" + dest for _, dest in tree]
    return repl.exec(REMOVE.format(paths=paths)).decode().split()


FIND_MODEL = """
import os
for path in {paths!r}:
    try:
        os.stat(path)
        print(path)
        break
    except OSError:
        pass
"""

BOARD_MODELS = ("/model.mcut", "/rom/model.mcut")  # where `mcutrain deploy` puts it: filesystem, ROMFS


def deployed_model(repl):
    """The path of the model `mcutrain deploy` left on the board (through an mpremote transport in
    the raw REPL); DeployError if there is none."""
    found = repl.exec(FIND_MODEL.format(paths=BOARD_MODELS)).decode().split()
    if not found:
        raise DeployError(f"no model on the board ({' or '.join(BOARD_MODELS)}): run `mcutrain deploy` first")
    return found[0]


def to_folder(folder, tree):
    """The virtual board's flash: the same tree as on a board."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    for source, dest in tree:
        target = folder / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return folder


def to_serial(transport, tree):
    """Copies the tree through mpremote's raw-REPL file functions."""
    from mpremote.transport import TransportError

    for folder in sorted({str(Path(dest).parent) for _, dest in tree if "/" in dest}, key=len):
        path = ""
        for part in folder.split("/"):
            path += "/" + part
            if not transport.fs_exists(path):
                try:
                    transport.fs_mkdir(path)
                except (OSError, TransportError) as e:  # mpremote's message is the bare path
                    raise DeployError(
                        f"cannot create {path} on the board ({type(e).__name__}): it has no writable "
                        f"filesystem. Flash a MicroPython firmware with a filesystem on its flash (the "
                        f"standard RP2040 and STM32 builds have one), or use an emulated board, --port "
                        f"qemu-m0, qemu-m3 or qemu-m4, which boots these files as a ROM image") from e
    for source, dest in tree:
        try:
            transport.fs_writefile("/" + dest, Path(source).read_bytes())
        except (OSError, TransportError) as e:
            raise DeployError(f"cannot write /{dest} on the board ({type(e).__name__}: {e}); "
                              f"is its filesystem full or read-only?") from e

