"""The host's end of the serial link (docs/protocol.md): numbered frames, a send window,
retransmission, and the board's answers matched to what was asked.

Framing and frame types are the device package's (mcutrain.link, with the reference kernels'
frame_encode/frame_decode): one definition of the wire format for both ends.
"""

import random
import struct
import time
from array import array

from mcutrain import link as protocol
from mcutrain.reference import frame_decode, frame_encode


class LinkDown(Exception):
    """The transport closed: the board's process ended, the cable went, the port vanished."""


class BoardReset(Exception):
    """The board announced a fresh start (BOOT) or no longer knows the session."""


class BoardError(Exception):
    """The board refused a request; the message is the board's."""


def encode(kind, seq, payload):
    data = struct.pack("<BHH", kind, seq, len(payload)) + bytes(payload)
    out = bytearray(protocol.max_wire(len(data)))
    n = frame_encode(out, data, array("i", [len(data)]))
    return bytes(out[:n])


class Parser:
    """Cuts a byte stream into frames; keeps what was not a frame (a traceback, a REPL banner)
    for error messages."""

    def __init__(self, max_data=1 << 14):
        self.buffer = bytearray()
        self.decoded = bytearray(max_data + 4)
        self.noise = bytearray()
        self.damaged = 0

    def feed(self, data):
        """Yields (type, seq, payload) for each good frame completed by data."""
        self.buffer += data
        while True:
            start = self.buffer.find(0)
            if start < 0:
                self._keep_noise(self.buffer)
                self.buffer.clear()
                return
            if start:
                self._keep_noise(self.buffer[:start])
                del self.buffer[:start]
            if len(self.buffer) < 3:
                return
            low, high = self.buffer[1], self.buffer[2]
            if low == 0 or high == 0 or not low & high & 0x80:
                self.damaged += 1
                del self.buffer[:1 if low == 0 else 2 if high == 0 else 3]
                continue
            size = (low & 0x7F) | (high & 0x7F) << 7
            if len(self.buffer) < 3 + size:
                nxt = self.buffer.find(0, 3)
                if nxt < 0:
                    return
                size = nxt - 3  # cut short by the next delimiter: damaged, decode will say so
            body = bytes(self.buffer[3:3 + size])
            del self.buffer[:3 + size]
            n = frame_decode(self.decoded, body, array("i", [len(body)]))
            if n < protocol.HEADER:
                self.damaged += 1
                continue
            kind, seq, length = struct.unpack_from("<BHH", self.decoded)
            if length != n - protocol.HEADER:
                self.damaged += 1
                continue
            yield kind, seq, bytes(self.decoded[protocol.HEADER:n])

    def _keep_noise(self, data):
        self.noise += data
        del self.noise[:-4096]


class Link:
    """Reliable, ordered delivery of requests to the board over a transport.

    Samples are pipelined (up to `window` in flight); a control request (HELLO, CONFIG, SAVE,
    STATS, BYE) waits for every sample before it and for its own answer, which keeps the
    board's memory of past answers to one control answer and WINDOW sample answers.
    """

    def __init__(self, transport, window=8, initial_timeout=1.0, min_timeout=0.05, max_timeout=10.0, give_up=60.0):
        if not 1 <= window <= protocol.WINDOW:
            raise ValueError(f"window must be in 1..{protocol.WINDOW}")
        self.transport = transport
        self.window = window
        self.min_timeout, self.max_timeout, self.give_up = min_timeout, max_timeout, give_up
        self.parser = Parser()
        self.seq = 0
        # seq -> [wire bytes, first sent, last sent, the send before the last (None: sent once), callback]
        self.in_flight = {}
        self.order = []  # seqs in flight, oldest first
        self.srtt, self.rttvar = None, 0.0
        # seq -> (send before the last, last send, answered) of resent frames answered since the last resend
        self.resent_answered = {}
        self.estimate = self.timeout = initial_timeout
        self.opening = False
        # Zero bytes sent before a retransmission: enough to complete any frame read the board
        # may be stuck in (damaged length bytes promise it more than came), the largest until
        # the board's HELLO says its own.
        self.flush = bytes(protocol.MAX_BODY)
        self.stats = {"sent_bytes": 0, "received_bytes": 0, "payload_bytes": 0, "retransmits": 0,
                      "frames": 0}

    # ---- sending ----
    def _send(self, wire):
        self.transport.write(wire)
        self.stats["sent_bytes"] += len(wire)

    def _post(self, kind, payload, callback):
        seq = self.seq
        self.seq = (self.seq + 1) & 0xFFFF
        wire = encode(kind, seq, payload)
        now = time.monotonic()
        self.in_flight[seq] = [wire, now, now, None, callback]
        self.order.append(seq)
        self._send(wire)
        self.stats["frames"] += 1
        return seq

    def send_sample(self, payload, callback, useful=0):
        """Queues a SAMPLE; callback(status, body) runs when its ACK arrives. Blocks while the
        window is full. `useful` counts the payload bytes that are data, for efficiency figures."""
        while len(self.order) >= self.window:
            self._pump()
        self.stats["payload_bytes"] += useful
        self._post(protocol.SAMPLE, payload, callback)

    def drain(self):
        while self.order:
            self._pump()

    def request(self, kind, payload=b""):
        """Sends a control frame after everything before it is answered; returns the answer text,
        or raises BoardError with the board's message."""
        self.drain()
        answer = []
        self._post(kind, payload, lambda status, body: answer.append((status, body)))
        self.drain()
        status, body = answer[0]
        text = body.decode(errors="replace")
        if status != protocol.OK:
            raise BoardError(text)
        return text

    def hello(self):
        """Opens a session (a fresh session number, so a delayed old HELLO cannot reopen one);
        returns the board's description as a dict."""
        self.abandon()
        session = random.randrange(1 << 30)
        self.opening = True  # a BOOT now is the board we are opening, not a reset
        try:
            info = parse_info(self.request(protocol.HELLO, struct.pack("<BI", protocol.VERSION, session)))
        finally:
            self.opening = False
        self.flush = bytes(int(info.get("frame_max", protocol.MAX_BODY)))
        return info

    def abandon(self):
        """Forgets frames in flight (their board is gone)."""
        self.in_flight.clear()
        self.order.clear()
        self.resent_answered.clear()
        self.timeout = self.estimate

    # ---- receiving ----
    def _pump(self):
        """Waits for board frames until the oldest frame in flight is answered or times out."""
        oldest = self.order[0]
        entry = self.in_flight[oldest]
        deadline = entry[2] + self.timeout
        while oldest in self.in_flight:
            now = time.monotonic()
            if now >= deadline:
                self._retransmit()
                return
            data = self.transport.read(deadline - now)
            if data:
                self.stats["received_bytes"] += len(data)
                for kind, seq, payload in self.parser.feed(data):
                    self._dispatch(kind, seq, payload)

    def _dispatch(self, kind, seq, payload):
        if kind == protocol.BOOT and not self.opening:
            raise BoardReset("the board restarted: " + payload[1:].decode(errors="replace"))
        if kind != protocol.ACK:
            return
        if seq not in self.in_flight:
            self._answered_again(seq)
            return
        # ACKs come in order: one for a later frame means every earlier one was applied too,
        # but each frame's own answer is what its callback needs, so wait for it.
        wire, first, last, before_last, callback = self.in_flight.pop(seq)
        self.order.remove(seq)
        now = time.monotonic()
        if before_last is not None:
            # Karn: which copy this answers is unknown, so it cannot time the link, unless the
            # board answers a copy again (_answered_again).
            self.resent_answered[seq] = (before_last, last, now)
            if len(self.resent_answered) > 2 * protocol.WINDOW:
                del self.resent_answered[next(iter(self.resent_answered))]
        else:
            self._measure(now - first)
        # An answer is progress: drop the backoff. Kept, it would only grow on a lossy line, where
        # every frame ends up retransmitted and none can time the link again.
        self.timeout = self.estimate
        callback(payload[0], payload[1:])

    def _answered_again(self, seq):
        """A second answer to a resent frame: the board answered two of its copies, so the first
        answer was not the last copy's (the board answers in order, and nothing is resent once
        answered): at the latest the copy before, whose round trip is then at most the true one.
        On a board slower than the estimate (a training step on an RP2040) every frame is resent
        and no first transmission is answered in time: this is how such a board gets timed. A
        lower bound never stretches the timeout on a lossy line, where copies are lost, not slow.
        The backoff stays: a repeated answer is no progress, and the frames still in flight may
        well be lost. One sample per resend, as TCP takes one per round trip: the frames resent
        together waited on the same event, and counting it once per frame would blow up the
        deviation (and the timeout, for long on a lossy line, where little else times the link)."""
        sent = self.resent_answered.pop(seq, None)
        if sent is not None:
            before_last, _, answered = sent
            self._measure(answered - before_last)
            self.resent_answered.clear()

    def _measure(self, rtt):
        # Jacobson (RFC 6298): the timeout follows mean + 4 deviations, but stays half the mean above
        # it (RFC 6298's clock granularity term, made relative): on a steady line the deviation
        # decays to nothing, and then any hiccup (a slower step, a busy host) would fire it.
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        margin = max(4 * self.rttvar, self.srtt / 2)
        self.estimate = min(self.max_timeout, max(self.min_timeout, self.srtt + margin))

    def _retransmit(self):
        """Go-back-N: the board drops frames after a missing one, so resend all in flight."""
        now = time.monotonic()
        oldest = self.in_flight[self.order[0]]
        if now - oldest[1] > self.give_up:
            raise LinkDown(f"no answer from the board for {now - oldest[1]:.0f} s")
        if self.resent_answered:
            # The last resend was answered and never twice: it replaced lost copies, and its last
            # answer timed the link from the last copy (a lower bound, exact when that copy was
            # the one answered). Without it, an estimate raised by one slow moment would stay up
            # on a lossy line, where hardly a frame is answered before it is resent.
            _, (_, last, answered) = self.resent_answered.popitem()
            self._measure(answered - last)
            self.resent_answered.clear()
        self.timeout = min(self.max_timeout, self.timeout * 2)
        self._send(self.flush)
        for seq in self.order:
            entry = self.in_flight[seq]
            entry[2], entry[3] = now, entry[2]
            self._send(entry[0])
            self.stats["retransmits"] += 1


def parse_info(text):
    """'a=1;b=x' -> {'a': '1', 'b': 'x'} (values stay text: the caller knows their types)."""
    return dict(item.split("=", 1) for item in text.split(";") if "=" in item)
