"""Byte pipes to a board running `mcutrain.serve`: the virtual board over a pipe or a pty, and a
real board on a serial port. Each has write(data), read(timeout) -> bytes (b"" when nothing came
in time), restart() (a board that was reset runs the server again) and close(); a closed link
raises LinkDown."""

import contextlib
import os
import select
import subprocess
import time
import tty
from pathlib import Path

from mcutrain import link as protocol
from mcutrain_host.board import micropython
from mcutrain_host.board.link import LinkDown, Parser, encode

SERVE = "import mcutrain.serve as s; s.main({model!r}, {checkpoint!r}, {arena})"

# What a host sends a board before its REPL: the board may still be serving a host that died (the
# server ignores Ctrl-C, which any frame may hold). Zero bytes complete a frame the board was
# reading when that host stopped mid-write, then pass as delimiters; ABORT ends the server
# whatever seq it expects. A REPL ignores the zeros, and the frame's bytes at most leave it in the
# raw REPL with a line that mpremote's Ctrl-C clears.
TAKE_BACK = bytes(protocol.MAX_BODY) + encode(protocol.ABORT, 0, b"")


@contextlib.contextmanager
def raw_repl(port, soft_reset):
    """mpremote's transport to the board on serial `port`, in its raw REPL for the block; mpremote's
    errors become OSError naming the port."""
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    try:
        board = SerialTransport(port, baudrate=115200)
    except TransportError as e:
        raise OSError(f"{port}: {e}") from e
    try:
        board.enter_raw_repl(soft_reset=soft_reset)
        yield board
        board.exit_raw_repl()
    except TransportError as e:
        raise OSError(f"{port}: {e}") from e
    finally:
        board.close()


class Board:
    """What every transport shares: a restart is a close and a fresh start (the server runs
    again), and one that owns a process (an emulator, the unix port) can be killed like a
    board losing power."""

    process = None

    def restart(self):
        self.close()
        self.start()

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def read_available(serial, timeout):
    """What a pyserial port has within timeout: waits for one byte, then takes what came with it."""
    serial.timeout = max(0.0, timeout)
    first = serial.read(1)
    return first + serial.read(serial.in_waiting) if first else b""


def take_back(serial, timeout=2.0):
    """Brings a board left inside the server by a dead host back to its REPL: sends TAKE_BACK, then
    reads until the server says bye, or a REPL answers with text (the board was not serving), or
    `timeout` passes in silence (a raw REPL does not echo; a server in a long training step reads
    the ABORT only after it, and the caller's retries meet it then). True if a server ended."""
    serial.write(TAKE_BACK)
    parser = Parser()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for kind, _, payload in parser.feed(read_available(serial, deadline - time.monotonic())):
            if kind == protocol.ACK and payload == b"\x00bye":
                return True
        if parser.noise.strip(b"\x00"):
            return False
    return False


class VirtualBoard(Board):
    """The unix port with a limited heap, running the server from `flash`, a folder holding what
    `mcutrain deploy` puts on a board (lib/, model.mcut); `pty=True` puts a pseudo-terminal (raw
    mode, as a USB CDC port behaves) between host and board instead of a pipe."""

    def __init__(self, flash, checkpoint, heap="256K", pty=False, arena=0):
        self.flash, self.heap, self.pty = Path(flash), heap, pty
        self.checkpoint = None if checkpoint is None else str(checkpoint)
        self.arena = arena
        self.process = None
        self.restarts = -1
        self.start()

    def start(self):
        binary = micropython.unix_binary()
        if not binary.exists():
            raise FileNotFoundError(f"{binary} is missing: run `make micropython` (or set MPY_DIR)")
        command = [str(binary), "-X", f"heapsize={self.heap}", "-c",
                   SERVE.format(model="model.mcut", checkpoint=self.checkpoint, arena=self.arena)]
        # Relative to the flash folder, the board's working directory: every run's sys.path holds
        # the same strings, so the heap a plan leaves is the same as at deploy's check.
        env = dict(os.environ, MICROPYPATH="lib")
        if self.pty:
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no line editing, no Ctrl-C signal: bytes pass as they are
            self.process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                                            env=env, cwd=self.flash)
            os.close(slave)
            self.fd_in = self.fd_out = master
        else:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, env=env, cwd=self.flash)
            self.fd_out, self.fd_in = self.process.stdin.fileno(), self.process.stdout.fileno()
        self.restarts += 1

    def write(self, data):
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd_out, view):]
        except OSError as e:  # BrokenPipeError, or EIO on a pty whose board has gone
            raise LinkDown(f"the virtual board is gone ({e}){self._why()}") from e

    def read(self, timeout):
        ready, _, _ = select.select([self.fd_in], [], [], max(0.0, timeout))
        if not ready:
            return b""
        try:
            data = os.read(self.fd_in, 65536)
        except OSError:
            data = b""
        if not data:
            raise LinkDown(f"the virtual board closed the link{self._why()}")
        return data

    def _why(self):
        code = self.process.poll()
        if code is None:
            return ""
        err = self.process.stderr.read().decode(errors="replace").strip() if self.process.stderr else ""
        return f" (exit {code}{': ' + err[-2000:] if err else ''})"

    def close(self, timeout=5.0):
        if self.process is None:
            return
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        self.kill()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream:
                stream.close()
        if self.pty:
            os.close(self.fd_in)
        self.process = None


class SerialBoard(Board):
    """A board on a serial port (USB CDC or UART) with mcutrain deployed (`mcutrain deploy`),
    serving `model` (None: the one deployed, deploy.deployed_model):
    the server is started through the raw REPL after a soft reset (and after take_back, for a board
    whose last host died mid-run), and after BYE the REPL comes back. `prelude` is MicroPython run first (e.g. mounting a ROM filesystem).
    `fit(info)`, if given, takes what the board reports (deploy.Board: arch, free heap) and returns
    the bytes of the arena the server takes at its start, or raises DeployError."""

    def __init__(self, port, model, checkpoint, baudrate=115200, prelude="", fit=None):
        self.port, self.model, self.checkpoint = port, model, checkpoint
        self.baudrate, self.prelude, self.fit = baudrate, prelude, fit
        self.repl = None
        self.restarts = -1
        self.start()

    def start(self, attempts=20):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        for attempt in range(attempts):  # a board that just reset takes a moment to enumerate again
            try:
                self.repl = SerialTransport(self.port, baudrate=self.baudrate)
                take_back(self.repl.serial)
                self.repl.enter_raw_repl(soft_reset=True)
                if self.prelude:
                    self.repl.exec(self.prelude)
                from mcutrain_host.board import deploy  # deploy imports the session, which imports this

                arena = 0
                if self.fit is not None:
                    arena = self.fit(deploy.parse_probe(self.repl.exec(deploy.PROBE).decode()))
                model = self.model or deploy.deployed_model(self.repl)
                self.repl.exec_raw_no_follow(SERVE.format(model=model, checkpoint=self.checkpoint, arena=arena))
                break
            except (OSError, TransportError) as e:
                if self.repl is not None:
                    self.repl.close()
                    self.repl = None
                if attempt == attempts - 1:
                    raise LinkDown(f"cannot start the server on {self.port}: {e}") from e
                time.sleep(0.5)
            except BaseException:  # the plan does not fit the board (fit), or Ctrl-C: let go of the port
                if self.repl is not None:
                    self.repl.close()
                    self.repl = None
                raise
        self.serial = self.repl.serial
        self.restarts += 1

    def write(self, data):
        try:
            self.serial.write(data)
        except OSError as e:
            raise LinkDown(f"{self.port}: {e}") from e

    def read(self, timeout):
        try:
            return read_available(self.serial, timeout)
        except OSError as e:
            raise LinkDown(f"{self.port}: {e}") from e

    def close(self):
        if self.repl is None:
            return
        try:
            self.repl.follow(timeout=2)  # the end of the raw REPL's output of the server's run
            self.repl.exit_raw_repl()
        except Exception:  # a board that is gone or still busy: nothing left to bring back
            pass
        self.repl.close()
        self.repl = None
