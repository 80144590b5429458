"""Emulated Cortex-M boards: MicroPython's qemu port under qemu-system-arm (issue #7).

    qemu-m0  QEMU's microbit given 256 KB SRAM and 1 MB flash: Cortex-M0, armv6m (an RP2040's arch)
    qemu-m3  mps2-an385: Cortex-M3, armv7m natmod
    qemu-m4  mps2-an386: Cortex-M4F, armv7emsp (our board folder, boards/qemu/MPS2_AN386)

and each as `<board>-frozen`: firmware with the device package frozen (device/manifest.py) and
qnn built in as a user C module (native_modules/qnn/micropython.mk), the way a user builds it
for a real board, so that their code runs from flash; its ROM image holds only the model.

`make qemu-boards` builds the firmware (QEMU_HEAP bytes of GC heap, 190 KB by default, about an
RP2040's free heap). Deploying is flashing: the tree `mcutrain deploy` puts on a board
(lib/mcutrain/*.mpy, lib/qnn.mpy for the board's arch, model.mcut) becomes a ROMFS image
(mpremote's romfs builder), which QEMU's generic loader places in the board's flash (qemu-m0) or
in RAM above the firmware (mps2), outside the GC heap as files in flash are on a real board. The
firmware mounts it at /rom as its ROMFS partition (boards/qemu/romfs_partition.c) and the board serves
from /rom/model.mcut.

The port has no writable filesystem; checkpoints go to /flash, a small filesystem in Python whose
files are in a host folder (QemuBoard's `flash`, QEMU's working directory), reached through ARM
semihosting (a `bkpt 0xAB` from an inline-assembler function). They survive kill() and start(),
as a real board's flash survives a reset, and a restarted board resumes from its newest one.

QemuBoard is a transport like transports.VirtualBoard: write(data), read(timeout), restart(),
close(), kill().
"""

import contextlib
import re
import shutil
import subprocess
import tempfile
import time
import weakref
from dataclasses import dataclass, replace
from pathlib import Path

from mcutrain_host.board import deploy, micropython
from mcutrain_host.board.link import LinkDown
from mcutrain_host.board.transports import SERVE, Board, read_available

DEFAULT_HEAP = 194560  # bytes; the Makefile's QEMU_HEAP
QEMU = "qemu-system-arm"
CHECKPOINT = "/flash/mcutrain.ckpt"


@dataclass(frozen=True)
class Spec:
    machine: str
    arch: str  # the natmod arch the board loads
    rom_address: int  # where the ROMFS image goes: free flash (microbit) or RAM above the firmware
    rom_limit: int
    qemu_args: tuple = ()
    frozen: bool = False  # the package and qnn are in the firmware


NATMOD_BOARDS = {
    "qemu-m0": Spec("microbit", "armv6m", 0x00080000, 0x00080000,
                    ("-global", "nrf51-soc.flash-size=1048576", "-global", "nrf51-soc.sram-size=262144")),
    "qemu-m3": Spec("mps2-an385", "armv7m", 0x00200000, 0x00100000),
    "qemu-m4": Spec("mps2-an386", "armv7emsp", 0x00200000, 0x00100000),
}
BOARDS = dict(NATMOD_BOARDS, **{f"{name}-frozen": replace(spec, frozen=True) for name, spec in NATMOD_BOARDS.items()})

# Run on the board before the server, which the firmware booted with the image mounted at /rom (its
# ROMFS partition, boards/qemu/romfs_partition.c): mount the host folder as /flash. Its files go
# through ARM semihosting (QEMU runs with -semihosting): `bkpt 0xAB` with an operation in r0 and a
# block of argument words at r1; QEMU does it on a host file relative to its working directory.
PRELUDE = """
import sys, vfs, uctypes, micropython
from array import array
@micropython.asm_thumb
def _semihost(r0, r1):
    data(2, 0xBEAB)
def _call(op, *words):
    return _semihost(op, array('i', words))
def _name(path):  # NUL-terminated, relative to QEMU's working directory
    return path.lstrip('/').encode() + b'\\0'
def _nbytes(b):  # a MicroPython array does not tell its item size
    return len(b) * len(bytes(memoryview(b)[:1])) if len(b) else 0
class _HostFile:
    def __init__(s, handle):
        s.handle = handle
    def write(s, b):
        if _call(5, s.handle, uctypes.addressof(b), _nbytes(b)):  # SYS_WRITE: the bytes not written
            raise OSError(5)
        return _nbytes(b)
    def readinto(s, b):
        n = _nbytes(b)
        return n - _call(6, s.handle, uctypes.addressof(b), n)  # SYS_READ: the bytes not read
    def read(s, n):
        b = bytearray(n)
        return bytes(b[:s.readinto(b)])
    def close(s):
        if s.handle >= 0:
            _call(2, s.handle)  # SYS_CLOSE
            s.handle = -1
    def __enter__(s):
        return s
    def __exit__(s, *a):
        s.close()
class _HostFS:
    def mount(s, readonly, mkfs):
        pass
    def umount(s):
        pass
    def open(s, path, mode):
        z = _name(path)
        handle = _call(1, uctypes.addressof(z), 5 if 'w' in mode else 1, len(z) - 1)  # SYS_OPEN wb / rb
        if handle < 0:
            raise OSError(2)
        return _HostFile(handle)
    def remove(s, path):
        z = _name(path)
        if _call(14, uctypes.addressof(z), len(z) - 1):  # SYS_REMOVE
            raise OSError(2)
    def rename(s, old, new):
        a, b = _name(old), _name(new)
        if _call(15, uctypes.addressof(a), len(a) - 1, uctypes.addressof(b), len(b) - 1):  # SYS_RENAME
            raise OSError(2)
vfs.mount(_HostFS(), '/flash')
"""


class QemuError(Exception):
    """The emulated board cannot be built or started; the message says what to do."""


# The largest GC heap (`--heap`) each machine's RAM holds next to the firmware. microbit: 256 KB of
# SRAM less the firmware's other data (1 KB) and its 10 KB stack, with a margin; mps2: code and
# data share the RAM below the ROMFS image at 2 MB, and 1.5 MB leaves room for the code.
MAX_HEAP = {"microbit": 240 * 1024, "mps2-an385": 1536 * 1024, "mps2-an386": 1536 * 1024}


def heap_bytes(text):
    """'200K', '1M' or '204800' -> bytes, as MicroPython's `-X heapsize` reads it; ValueError if
    it is not a size."""
    units = {"K": 1024, "M": 1024 * 1024}
    size = text.strip().upper()
    try:
        return int(size[:-1]) * units[size[-1]] if size[-1:] in units else int(size)
    except ValueError:
        raise ValueError(f"{text!r} is not a size such as 200K, 1M or 204800") from None


def natmod_arch(board):
    """The arch of the natmod the board loads; None where qnn is built into its firmware."""
    return None if BOARDS[board].frozen else BOARDS[board].arch


def firmware(board, heap=DEFAULT_HEAP):
    return micropython.build_dir() / "qemu" / f"heap-{heap}" / board / "firmware.elf"


def build_firmware(board, heap=DEFAULT_HEAP):
    """The board's firmware, brought up to date by `make` (instant when it is: the prelude needs a
    firmware as new as boards/qemu/)."""
    path = firmware(board, heap)
    proc = subprocess.run(["make", "-s", "-C", str(micropython.REPO), f"QEMU_HEAP={heap}",
                           f"MPY_DIR={micropython.mpy_dir()}", f"BUILD_DIR={micropython.build_dir()}", str(path)],
                          capture_output=True, text=True)
    if proc.returncode or not path.exists():
        raise QemuError(f"building {board} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return path


TIME = micropython.REPO / "boards" / "qemu" / "time.py"


def deploy_image(board, model, output):
    """The deploy tree for `board` (the package, the natmod for its arch, the model) as an image,
    with lib/time.py: the port has no `time`, boards/qemu/time.py reads a hardware timer instead.
    A frozen board's firmware has all of that but the model (boards/qemu/manifest.py)."""
    if BOARDS[board].frozen:
        return deploy.romfs_image([(Path(model), "model.mcut")], output)
    return deploy.romfs_image(deploy.files(BOARDS[board].arch, model) + [(TIME, "lib/time.py")], output)


class QemuBoard(Board):
    """An emulated board running the server from the ROMFS image `image` (deploy_image): each
    start boots QEMU with the image in the board's ROMFS partition, which the firmware mounts at
    /rom, and starts `mcutrain.serve` through the raw REPL. image None leaves the partition
    empty, as on a board just flashed (with serve=False: for `mpremote romfs deploy`).
    `icount=True` runs QEMU with `-icount shift=0` (virtual time counts instructions, so SysTick
    readings repeat). `info` is what the board reported at boot (deploy.Board: arch, free heap).
    `flash` is the host folder the board sees as /flash (QEMU's working directory); by default a
    temporary one that lasts as long as this object. kill() loses the board's RAM, not /flash.
    `fit(info)`, if given, returns the bytes of the arena the server takes at its start, or
    raises DeployError (the board is closed) where the plan does not fit."""

    def __init__(self, board, image, checkpoint=CHECKPOINT, flash=None, heap=DEFAULT_HEAP, icount=False,
                 model="/rom/model.mcut", serve=True, boot_timeout=20.0, fit=None):
        if board not in BOARDS:
            raise QemuError(f"unknown board {board!r}: one of {', '.join(BOARDS)}")
        if shutil.which(QEMU) is None:
            raise QemuError(f"{QEMU} is missing: apt-get install qemu-system-arm")
        self.board, self.spec = board, BOARDS[board]
        self.image = None if image is None else Path(image).resolve()  # QEMU runs in `flash`
        self.checkpoint, self.heap, self.icount = checkpoint, heap, icount
        self.model, self.serve, self.boot_timeout, self.fit = model, serve, boot_timeout, fit
        if flash is None:
            self._flash_folder = tempfile.TemporaryDirectory(prefix=f"{board}-flash-")
            flash = self._flash_folder.name
        self.flash = Path(flash)
        self.flash.mkdir(parents=True, exist_ok=True)
        size = 0 if image is None else self.image.stat().st_size
        if size > self.spec.rom_limit:
            raise QemuError(f"the image is {size} bytes; {board} holds {self.spec.rom_limit}")
        self.firmware = build_firmware(board, heap).resolve()
        self.process = self.repl = self.serial = self.info = self.pty = None
        self.log = None
        self.restarts = -1
        self.start()

    def command(self, pty=True):
        spec = self.spec
        return [QEMU, "-machine", spec.machine, *spec.qemu_args, "-nographic", "-monitor", "null",
                "-semihosting", "-serial", "pty" if pty else "stdio", *(["-icount", "shift=0"] if self.icount else []),
                "-kernel", str(self.firmware),
                *([] if self.image is None else
                  ["-device", f"loader,file={self.image},addr=0x{spec.rom_address:x},force-raw=on"])]

    def _boot(self):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=subprocess.STDOUT, cwd=self.flash)
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

        self.pty = self._boot()
        try:
            self.repl = SerialTransport(self.pty, baudrate=115200)
            self.repl.enter_raw_repl(soft_reset=False)
            self.repl.exec(PRELUDE)
            self.info = deploy.parse_probe(self.repl.exec(deploy.PROBE).decode())
            if self.serve:
                arena = self.fit(self.info) if self.fit else 0
                self.repl.exec_raw_no_follow(SERVE.format(model=self.model, checkpoint=self.checkpoint, arena=arena))
        except (OSError, TransportError) as e:
            self.kill()
            raise LinkDown(f"cannot start the server on {self.board}: {e}{self._why()}") from e
        except deploy.DeployError:
            self.close()
            raise
        self.serial = self.repl.serial
        self.restarts += 1

    @contextlib.contextmanager
    def handed_over(self):
        """Lets go of the serial port, which mpremote opens exclusively, for another tool (such as
        `mcutrain deploy --port PTY`) while the board runs on; yields its path, then takes it back."""
        from mpremote.transport_serial import SerialTransport

        self.repl.close()
        try:
            yield self.pty
        finally:
            self.repl = SerialTransport(self.pty, baudrate=115200)
            self.serial = self.repl.serial

    def exec(self, code, timeout=60):
        """Runs MicroPython on a board started with serve=False; returns its output (bytes).

        Reads the output as fast as it comes, not through mpremote's follow(): QEMU's nRF51 UART
        (qemu-m0) stops for good once the pty's buffer is full, and mpremote, reading a byte at a
        time into a growing string, falls behind a long output (a 240 KB one hung forever)."""
        # A fresh raw REPL prompt: reading in chunks may have taken the last run's one.
        self.repl.enter_raw_repl(soft_reset=False)
        self.repl.exec_raw_no_follow(code)
        out = bytearray()
        deadline = time.monotonic() + timeout
        while out.count(b"\x04") < 2:  # the raw REPL ends the output, then the error, with 0x04
            left = deadline - time.monotonic()
            if left <= 0:
                raise QemuError(f"{self.board}: no end of output after {timeout} s{self._why()}")
            out += self.read(min(left, 1.0))
            # A CPU fault: the port prints the registers, then spins for ever.
            crash = re.search(rb"\w+ exception caught:.*xPSR: [0-9A-F]{8}", out, re.S)
            if crash:
                raise QemuError(f"{self.board} crashed: {crash.group().decode(errors='replace')}")
        out, err = bytes(out).split(b"\x04")[:2]
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
