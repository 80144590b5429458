"""Emulated Cortex-M boards: MicroPython's qemu port under qemu-system-arm (issue #7).

    qemu-m0  QEMU's microbit given 256 KB SRAM and 1 MB flash: Cortex-M0, armv6m (an RP2040's arch)
    qemu-m3  mps2-an385: Cortex-M3, armv7m natmod
    qemu-m4  mps2-an386: Cortex-M4F, armv7emsp (our board folder, boards/qemu/MPS2_AN386)

`make qemu-boards` builds the firmware (QEMU_HEAP bytes of GC heap, 190 KB by default, about an
RP2040's free heap). Deploying is flashing: the tree `mcutrain deploy` puts on a board
(lib/mcutrain/*.mpy, lib/qnn.mpy for the board's arch, model.mcut) becomes a ROMFS image
(mpremote's romfs builder), which QEMU's generic loader places in the board's flash (qemu-m0) or
in RAM above the firmware (mps2), outside the GC heap as files in flash are on a real board. The
board mounts it at /rom (vfs.VfsRom over uctypes.bytearray_at) and serves from /rom/model.mcut.

Checkpoints go to /ram, a small filesystem in Python holding files in the heap (the port has no
writable filesystem): they last as long as the emulated board runs, so a board that is killed
and restarted resumes from nothing, and the host starts again from sample 0.

QemuBoard is a transport like transports.VirtualBoard: write(data), read(timeout), restart(),
close(), kill().
"""

import contextlib
import io
import re
import shutil
import subprocess
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from mcutrain_host import deploy, micropython
from mcutrain_host.link import LinkDown
from mcutrain_host.transports import SERVE, Board, read_available

DEFAULT_HEAP = 194560  # bytes; the Makefile's QEMU_HEAP
QEMU = "qemu-system-arm"
RAM_CHECKPOINT = "/ram/mcutrain.ckpt"


@dataclass(frozen=True)
class Spec:
    machine: str
    arch: str  # the natmod arch the board loads
    rom_address: int  # where the ROMFS image goes: free flash (microbit) or RAM above the firmware
    rom_limit: int
    qemu_args: tuple = ()


BOARDS = {
    "qemu-m0": Spec("microbit", "armv6m", 0x00080000, 0x00080000,
                    ("-global", "nrf51-soc.flash-size=1048576", "-global", "nrf51-soc.sram-size=262144")),
    "qemu-m3": Spec("mps2-an385", "armv7m", 0x00200000, 0x00100000),
    "qemu-m4": Spec("mps2-an386", "armv7emsp", 0x00200000, 0x00100000),
}

# Run on the board before the server: mount the image and a RAM filesystem for checkpoints.
PRELUDE = """
import sys, io, vfs, uctypes
vfs.mount(vfs.VfsRom(uctypes.bytearray_at({address}, {size})), '/rom')
sys.path.insert(0, '/rom/lib')
class _RamFile:
    def __init__(s, fs, path):
        s.data = fs.files[path] = bytearray()
    def write(s, b):
        s.data.extend(b)
        return len(b)
    def close(s):
        pass
    def __enter__(s):
        return s
    def __exit__(s, *a):
        s.close()
class _RamFS:
    def __init__(s):
        s.files = {{}}
    def mount(s, readonly, mkfs):
        pass
    def umount(s):
        pass
    def open(s, path, mode):
        if 'w' in mode:
            return _RamFile(s, path)
        if path not in s.files:
            raise OSError(2)
        return io.BytesIO(s.files[path])
    def remove(s, path):
        if s.files.pop(path, None) is None:
            raise OSError(2)
    def rename(s, old, new):
        if old not in s.files:
            raise OSError(2)
        s.files[new] = s.files.pop(old)
    def stat(s, path):
        if path in ('', '/'):
            return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if path not in s.files:
            raise OSError(2)
        return (0x8000, 0, 0, 0, 0, 0, len(s.files[path]), 0, 0, 0)
    def ilistdir(s, path):
        for name in s.files:
            yield (name[1:], 0x8000, 0, len(s.files[name]))
    def chdir(s, path):
        pass
    def getcwd(s):
        return ''
    def statvfs(s, path):
        return (512, 512, 0, 0, 0, 0, 0, 0, 0, 255)
vfs.mount(_RamFS(), '/ram')
"""


class QemuError(Exception):
    """The emulated board cannot be built or started; the message says what to do."""


def firmware(board, heap=DEFAULT_HEAP):
    return micropython.build_dir() / "qemu" / f"heap-{heap}" / board / "firmware.elf"


def build_firmware(board, heap=DEFAULT_HEAP):
    """The board's firmware, built by `make` (cached: instant when it exists)."""
    path = firmware(board, heap)
    if not path.exists():
        proc = subprocess.run(["make", "-s", "-C", str(micropython.REPO), f"QEMU_HEAP={heap}",
                               f"MPY_DIR={micropython.mpy_dir()}", str(path)], capture_output=True, text=True)
        if proc.returncode or not path.exists():
            raise QemuError(f"building {board} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return path


def romfs_image(tree, output):
    """A ROMFS image of [(source, path on the board)] (deploy.files) at `output`."""
    from mpremote.romfs import make_romfs

    with tempfile.TemporaryDirectory() as tmp:
        deploy.to_folder(Path(tmp) / "flash", tree)
        with contextlib.redirect_stdout(io.StringIO()):  # the builder lists every file it adds
            image = make_romfs(str(Path(tmp) / "flash"), mpy_cross=False)
    Path(output).write_bytes(image)
    return Path(output)


def deploy_image(board, model, output):
    """The deploy tree for `board` (the package, the natmod for its arch, the model) as an image."""
    return romfs_image(deploy.files(BOARDS[board].arch, model), output)


class QemuBoard(Board):
    """An emulated board running the server from the ROMFS image `image` (deploy_image): each
    start boots QEMU, mounts the image, and starts `mcutrain.serve` through the raw REPL.
    `icount=True` runs QEMU with `-icount shift=0` (virtual time counts instructions, so SysTick
    readings repeat). `info` is what the board reported at boot (deploy.Board: arch, free heap).
    kill() loses its RAM, /ram checkpoints included."""

    def __init__(self, board, image, checkpoint=RAM_CHECKPOINT, heap=DEFAULT_HEAP, icount=False,
                 model="/rom/model.mcut", serve=True, boot_timeout=20.0):
        if board not in BOARDS:
            raise QemuError(f"unknown board {board!r}: one of {', '.join(BOARDS)}")
        if shutil.which(QEMU) is None:
            raise QemuError(f"{QEMU} is missing: apt-get install qemu-system-arm")
        self.board, self.spec, self.image = board, BOARDS[board], Path(image)
        self.checkpoint, self.heap, self.icount = checkpoint, heap, icount
        self.model, self.serve, self.boot_timeout = model, serve, boot_timeout
        size = self.image.stat().st_size
        if size > self.spec.rom_limit:
            raise QemuError(f"the image is {size} bytes; {board} holds {self.spec.rom_limit}")
        self.firmware = build_firmware(board, heap)
        self.process = self.repl = self.serial = self.info = None
        self.log = None
        self.restarts = -1
        self.start()

    def command(self, pty=True):
        spec = self.spec
        return [QEMU, "-machine", spec.machine, *spec.qemu_args, "-nographic", "-monitor", "null",
                "-semihosting", "-serial", "pty" if pty else "stdio", *(["-icount", "shift=0"] if self.icount else []),
                "-kernel", str(self.firmware),
                "-device", f"loader,file={self.image},addr=0x{spec.rom_address:x},force-raw=on"]

    def _boot(self):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        # A board its owner forgot to close must not outlive the tool (QEMU runs until killed).
        weakref.finalize(self, self.process.kill)
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            self.log.seek(0)
            found = re.search(rb"char device redirected to (\S+)", self.log.read())
            if found:
                return found.group(1).decode()
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise QemuError(f"QEMU did not offer a serial pty{self._why()}")

    def start(self):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        path = self._boot()
        try:
            self.repl = SerialTransport(path, baudrate=115200)
            self.repl.enter_raw_repl(soft_reset=False)
            self.repl.exec(PRELUDE.format(address=self.spec.rom_address, size=self.image.stat().st_size))
            self.info = deploy.parse_probe(self.repl.exec(deploy.PROBE).decode())
            if self.serve:
                self.repl.exec_raw_no_follow(SERVE.format(model=self.model, checkpoint=self.checkpoint))
        except (OSError, TransportError) as e:
            self.kill()
            raise LinkDown(f"cannot start the server on {self.board}: {e}{self._why()}") from e
        self.serial = self.repl.serial
        self.restarts += 1

    def exec(self, code, timeout=60):
        """Runs MicroPython on a board started with serve=False; returns its output (bytes)."""
        out, err = self.repl.exec_raw(code, timeout=timeout)
        if err:
            raise QemuError(f"{self.board}: {err.decode(errors='replace')}")
        return out

    def _why(self):
        if self.process is None or self.process.poll() is None:
            return ""
        self.log.seek(0)
        return f" (QEMU exit {self.process.returncode}: {self.log.read().decode(errors='replace')[-2000:]})"

    def write(self, data):
        try:
            self.serial.write(data)
        except (OSError, AttributeError) as e:
            raise LinkDown(f"{self.board}: {e}{self._why()}") from e

    def read(self, timeout):
        try:
            return read_available(self.serial, timeout)
        except (OSError, AttributeError) as e:
            raise LinkDown(f"{self.board}: {e}{self._why()}") from e

    def close(self):
        if self.repl is not None:
            if self.process and self.process.poll() is None:
                try:
                    self.repl.follow(timeout=2)  # the end of the raw REPL's output of the server's run
                except Exception:  # a board still busy: it goes with QEMU below
                    pass
            with contextlib.suppress(Exception):
                self.repl.close()
            self.repl = self.serial = None
        self.kill()
        if self.log is not None:
            self.log.close()
            self.log = None
        self.process = None
