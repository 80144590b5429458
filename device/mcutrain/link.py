"""The board's end of the serial link (docs/protocol.md): frames in, in order, exactly once.

The host numbers its frames and keeps a window of them in flight; the board takes only the frame
it expects next, answers each with an ACK carrying the frame's result, and answers a repeated
frame by sending its ACK again, so a lost ACK costs a retransmission, never a second application.
Frames with a bad CRC, out of order or cut short are dropped: the host's timeout sends them again.

Everything is planned when the link is made: a frame's bytes are read with exact `readinto`
calls into fixed buffers and decoded by the `frame_decode` kernel, so receiving and answering a
sample allocates nothing.
"""

from array import array

from mcutrain.backend import kernels

VERSION = 1
# Frame types, host to board. ABORT is BYE from a host that does not know the session: one taking
# back a board whose host died mid-run, which must not have to guess the seq the board expects.
HELLO, CONFIG, SAMPLE, SAVE, STATS, BYE, ABORT, BEST = 1, 2, 3, 4, 5, 6, 7, 8
# Frame types, board to host: ACK answers a frame (same seq); BOOT announces a (re)started board.
ACK, BOOT = 0x80, 0x81
HEADER = 5  # type u8, seq u16, length u16
WINDOW = 16  # frames the host may have in flight; the board remembers that many sample ACKs
OK, FAILED = 0, 1
MAX_TEXT = 1024  # the longest text in an ACK (HELLO, CONFIG, STATS answers)
SAMPLE_RESULT = 19  # event u8, steps u32, samples u32, checksum u32, loss i32, correct u16
MAX_BODY = (1 << 14) - 1  # the longest COBS body two 7-bit length bytes can announce


def max_wire(n):
    """Bytes on the wire for n data bytes: delimiter, 2 length bytes, COBS of data + CRC."""
    n += 4
    return n + n // 254 + 1 + 3


class LinkClosed(Exception):
    pass


class Link:
    def __init__(self, stream_in, stream_out, max_data):
        self.stream_in, self.stream_out = stream_in, stream_out
        self.body = bytearray(max_wire(max_data) - 3)
        self.frame = bytearray(max_data + 4)  # the data, then its CRC
        self.one = bytearray(1)
        self.n = array("i", [0])
        self.expected = 0
        self.session = -1
        self.seq = 0
        self.length = 0
        self.dropped = 0  # frames lost to damage, order or framing: for people, never for decisions
        # The answer to the latest frame, and the last WINDOW sample ACKs as sent on the wire.
        self.out = bytearray(HEADER + 1 + MAX_TEXT)
        self.wire = bytearray(max_wire(len(self.out)))
        self.wire_length = 0
        self.wire_seq = -1
        slot = max_wire(HEADER + 1 + SAMPLE_RESULT)
        self.ring = bytearray(WINDOW * slot)
        self.slots = [memoryview(self.ring)[i * slot:(i + 1) * slot] for i in range(WINDOW)]
        self.slot_seq = array("i", [-1] * WINDOW)
        self.slot_length = array("i", [0] * WINDOW)

    def _byte(self):
        if self.stream_in.readinto(self.one) != 1:
            raise LinkClosed("the host closed the link")
        return self.one[0]

    def _read_frame(self):
        """The data length of the next well-formed frame on the wire, or 0 for a damaged one."""
        b = self._byte()
        while b != 0:  # hunt for the delimiter
            b = self._byte()
        while True:
            low = self._byte()
            if low == 0:
                continue  # another delimiter: the frame starts after it
            high = self._byte()
            if high == 0:
                continue
            break
        if not low & high & 0x80:
            return 0
        size = (low & 0x7F) | (high & 0x7F) << 7
        if size > len(self.body):
            return 0
        if self.stream_in.readinto(self.body, size) != size:
            raise LinkClosed("the host closed the link inside a frame")
        self.n[0] = size
        return kernels.frame_decode(self.frame, self.body, self.n)

    def receive(self):
        """Waits for the next frame in order and returns its type; its payload is
        self.frame[HEADER:HEADER + self.length]. Answers repeats of earlier frames on the way."""
        frame = self.frame
        while True:
            n = self._read_frame()
            if n < HEADER or (frame[3] | frame[4] << 8) != n - HEADER:
                self.dropped += 1
                continue
            seq = frame[1] | frame[2] << 8
            if frame[0] == ABORT:
                self.seq, self.length = seq, n - HEADER
                return ABORT
            if frame[0] == HELLO and n >= HEADER + 5 and self.payload_u32(1) != self.session:
                # A HELLO with a new session number restarts the numbering at its seq; a repeat
                # of an old one (a delayed copy) must not, or later frames would look out of order.
                self.session = self.payload_u32(1)
                self.expected = seq
            if seq == self.expected:
                self.expected = (seq + 1) & 0xFFFF
                self.seq, self.length = seq, n - HEADER
                return frame[0]
            self._repeat(seq)

    def _repeat(self, seq):
        """Sends the ACK of an earlier frame again; a frame ahead of the expected one is dropped."""
        if seq == self.wire_seq:
            self.stream_out.write(self.wire, self.wire_length)
            return
        i = seq % WINDOW
        if self.slot_seq[i] == seq:
            self.stream_out.write(self.slots[i], self.slot_length[i])
            return
        self.dropped += 1

    def _begin(self, kind, seq, status):
        out = self.out
        out[0] = kind
        out[1] = seq & 0xFF
        out[2] = seq >> 8
        out[5] = status
        return out

    def _finish(self, wire, length):
        """Frames out[:HEADER + length] into wire; returns the bytes to send."""
        out = self.out
        out[3] = length & 0xFF
        out[4] = length >> 8
        self.n[0] = HEADER + length
        return kernels.frame_encode(wire, out, self.n)

    def answer_text(self, text, status=OK, kind=ACK):
        """ACKs the current frame (or announces a boot) with a status and a text."""
        out = self._begin(kind, self.seq if kind == ACK else 0, status)
        data = text.encode() if isinstance(text, str) else text
        n = min(len(data), MAX_TEXT)
        out[HEADER + 1:HEADER + 1 + n] = data[:n]
        self.wire_length = self._finish(self.wire, 1 + n)
        self.wire_seq = self.seq if kind == ACK else -1
        self.stream_out.write(self.wire, self.wire_length)

    def answer_sample(self, event, steps, samples, checksum, loss, correct):
        """ACKs the current SAMPLE frame with the board's counters; checksum is a 1-element int32
        buffer (a CRC held as bits, which as an int could be a heap-allocated big int)."""
        out = self._begin(ACK, self.seq, OK)
        out[6] = event
        _put32(out, 7, steps)
        _put32(out, 11, samples)
        kernels.copy(out, checksum, _CHECKSUM_AT)
        _put32(out, 19, loss)
        out[23] = correct & 0xFF
        out[24] = correct >> 8
        i = self.seq % WINDOW
        slot = self.slots[i]
        length = self._finish(slot, 1 + SAMPLE_RESULT)
        self.slot_seq[i] = self.seq
        self.slot_length[i] = length
        self.stream_out.write(slot, length)

    def payload_byte(self, i):
        return self.frame[HEADER + i]

    def payload_u32(self, i):
        f, i = self.frame, HEADER + i
        return f[i] | f[i + 1] << 8 | f[i + 2] << 16 | f[i + 3] << 24


_CHECKSUM_AT = array("i", [15, 0, 4])  # copy params: out[15:19] = the checksum's 4 bytes


def _put32(out, i, value):
    out[i] = value & 0xFF
    out[i + 1] = (value >> 8) & 0xFF
    out[i + 2] = (value >> 16) & 0xFF
    out[i + 3] = (value >> 24) & 0xFF
