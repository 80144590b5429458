"""Parity of frame_encode, frame_decode and copy with the reference (device/mcutrain/reference/
frame.py; wire format in docs/protocol.md), and the properties of the reference itself: frames
round-trip, carry no 0x00 after their first byte, and a flipped bit never passes as other data."""

import struct
import zlib
from array import array

import numpy as np

from mcutrain import reference
from mcutrain.reference import frame
from parity import assert_parity, run_reference

MAX_DATA = 16314  # the longest n with max_body(n + 4) <= MAX_BODY
KINDS = ("random", "nonzero", "zeros", "runs", "allzero")


def params(*values):
    return array("i", values)


def make_data(rng, n, kind):
    """n bytes of a kind: random (a few 0x00), no 0x00 at all (codes of 0xFF), mostly 0x00,
    non-zero runs of 253 to 256 bytes between zeros (the 254/255 edges of COBS), all 0x00."""
    if kind == "random":
        return rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    if kind == "nonzero":
        return rng.integers(1, 256, n, dtype=np.uint8).tobytes()
    if kind == "zeros":
        b = rng.integers(1, 256, n, dtype=np.uint8)
        b[rng.random(n) < 0.8] = 0
        return b.tobytes()
    if kind == "runs":
        out = bytearray()
        while len(out) < n:
            out += rng.integers(1, 256, int(rng.integers(253, 257)), dtype=np.uint8).tobytes() + b"\x00"
        return bytes(out[:n])
    return bytes(n)


def data_len(rng):
    return int(rng.choice([1, 2, 3, 4, 5, 250, 251, 253, 254, 255, 256, 508, 509, 2000,
                           int(rng.integers(1, 2001)), int(rng.integers(1, 2001))]))


def wire_of(data):
    out = bytearray(frame.max_body(len(data) + 4) + 3)
    k = reference.frame_encode(out, data, params(len(data)))
    return bytes(out[:k])


def as_buffer(rng, b):
    """b as a bytearray, or (when its length allows) an array of another typecode: the kernels
    take any buffer as bytes."""
    if len(b) % 4 == 0 and rng.random() < 0.15:
        return array("i", b)
    if len(b) % 2 == 0 and rng.random() < 0.15:
        return array("h", b)
    return bytearray(b)


def corrupt(rng, body, how):
    body = bytearray(body)
    at = int(rng.integers(0, len(body)))
    if how == "flip":
        body[at] ^= 1 << int(rng.integers(0, 8))
    elif how == "drop":
        del body[at]
    elif how == "insert":
        body.insert(at, int(rng.integers(0, 256)))
    elif how == "zero":
        body[at] = 0
    elif how == "truncate":
        del body[at:]
    elif how == "random":
        body = bytearray(make_data(rng, int(rng.integers(0, 600)), str(rng.choice(KINDS))))
    elif how == "double":
        body += bytes(body)
    return bytes(body)


# ---- The reference ----

def test_reference_round_trip_and_wire_properties():
    rng = np.random.default_rng(1)
    for i in range(600):
        n = data_len(rng)
        data = make_data(rng, n, KINDS[i % len(KINDS)])
        wire = wire_of(data)
        body = wire[3:]
        assert wire[0] == 0 and 0 not in wire[1:]
        assert wire[1] & 0x80 and wire[2] & 0x80
        assert (wire[1] & 0x7F) | (wire[2] & 0x7F) << 7 == len(body)
        assert len(body) <= frame.max_body(n + 4)
        out = bytearray(n + 4)
        assert reference.frame_decode(out, body, params(len(body))) == n
        assert bytes(out) == data + struct.pack("<I", zlib.crc32(data))


def test_reference_longest_frame_fills_the_length_bytes():
    data = bytes(range(1, 256)) * 64
    data = data[:MAX_DATA]
    wire = wire_of(data)  # no 0x00 anywhere: the longest COBS of its length
    assert len(wire) - 3 == frame.max_body(MAX_DATA + 4) == frame.MAX_BODY
    assert wire[1] == wire[2] == 0xFF
    out = bytearray(MAX_DATA + 4)
    assert reference.frame_decode(out, wire[3:], params(len(wire) - 3)) == MAX_DATA


def test_reference_cobs_edges():
    assert frame.cobs_encode(b"") == b"\x01"
    assert frame.cobs_encode(b"\x00") == b"\x01\x01"
    assert frame.cobs_encode(b"\x11\x00\x22") == b"\x02\x11\x02\x22"
    run = bytes(range(1, 255))
    assert frame.cobs_encode(run) == b"\xff" + run + b"\x01"
    assert frame.cobs_encode(run + b"\x00") == b"\xff" + run + b"\x01\x01"
    assert frame.cobs_encode(run[:253]) == b"\xfe" + run[:253]
    for data in (b"", b"\x00", b"\x00\x00", run, run + b"\x00", run + b"\x07", run[:253] + b"\x00"):
        assert frame.cobs_decode(frame.cobs_encode(data)) == data
    for bad in (b"\x00", b"\x03\x01", b"\x03\x01\x00", b"\x02\x01\x00"):
        assert frame.cobs_decode(bad) is None


def test_reference_a_flipped_bit_never_passes_as_other_data():
    rng = np.random.default_rng(2)
    accepted = 0
    for i in range(1500):
        data = make_data(rng, int(rng.integers(1, 300)), KINDS[i % len(KINDS)])
        body = bytearray(wire_of(data)[3:])
        bit = int(rng.integers(0, 8 * len(body)))
        body[bit // 8] ^= 1 << (bit % 8)
        out = bytearray(len(body) + 8)
        got = reference.frame_decode(out, body, params(len(body)))
        if got:
            accepted += 1
            assert bytes(out[:got]) == data, f"trial {i}: a flipped bit decoded to other data with a good CRC"
    assert accepted == 0


def test_reference_too_small_out_and_short_frames_are_not_frames():
    data = b"abc\x00def"
    body = wire_of(data)[3:]
    out = bytearray(len(data) + 3)
    assert reference.frame_decode(out, body, params(len(body))) == 0
    assert out == bytearray(len(data) + 3)  # untouched
    # 4 decoded bytes (an empty payload's CRC alone) are not a frame.
    short = frame.cobs_encode(struct.pack("<I", zlib.crc32(b"")))
    assert reference.frame_decode(bytearray(16), short, params(len(short))) == 0
    assert reference.frame_decode(bytearray(16), b"", params(0)) == 0


def memmove_model(buf, d, s, n):
    b = bytearray(buf)
    b[d:d + n] = bytes(buf[s:s + n])
    return b


def test_reference_copy_is_memmove_on_one_buffer():
    rng = np.random.default_rng(3)
    for _ in range(500):
        size = int(rng.integers(0, 64))
        buf = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        n = int(rng.integers(0, size + 1))
        d, s = (int(rng.integers(0, size - n + 1)) for _ in range(2))
        expected = memmove_model(buf, d, s, n)
        assert reference.copy(buf, buf, params(d, s, n)) == 0
        assert buf == expected


# ---- Parity on the board ----

def encode_case(rng, i):
    n = data_len(rng)
    data = make_data(rng, n, KINDS[i % len(KINDS)])
    if rng.random() < 0.2:
        data += make_data(rng, int(rng.integers(1, 20)), "random")  # n < len(data)
    room = frame.max_body(n + 4) + 3
    out = room + int(rng.choice([0, 0, 0, 1, 7, -1]))  # -1: one byte short, an error
    return ("frame_encode", [as_buffer(rng, b"\x00" * out), as_buffer(rng, data), params(n)])


def decode_case(rng, i):
    n = data_len(rng)
    data = make_data(rng, n, KINDS[i % len(KINDS)])
    how = str(rng.choice(["none"] * 6 + ["flip", "drop", "insert", "zero", "truncate", "random", "double"]))
    body = corrupt(rng, wire_of(data)[3:], how)
    size = max(0, n + 4 + int(rng.choice([0, 0, -1, 1, 100, -5])))
    out = bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())  # kept for a bad frame
    length = len(body)
    if rng.random() < 0.15:
        body += make_data(rng, int(rng.integers(1, 40)), "random")  # bytes after the frame
    elif rng.random() < 0.1:
        length = int(rng.integers(0, length + 1))  # a truncated frame
    return ("frame_decode", [as_buffer(rng, out), as_buffer(rng, body), params(length)])


def copy_case(rng):
    src_len, dst_len = int(rng.integers(0, 300)), int(rng.integers(0, 300))
    n = int(rng.integers(0, min(src_len, dst_len) + 1))
    s, d = int(rng.integers(0, src_len - n + 1)), int(rng.integers(0, dst_len - n + 1))
    if rng.random() < 0.15:  # a range one past an end: an error
        if rng.random() < 0.5:
            s = src_len - n + 1
        else:
            d = dst_len - n + 1
    src = rng.integers(0, 256, src_len, dtype=np.uint8).tobytes()
    dst = rng.integers(0, 256, dst_len, dtype=np.uint8).tobytes()
    return ("copy", [as_buffer(rng, dst), as_buffer(rng, src), params(d, s, n)])


def test_frame_encode_parity(board, tmp_path):
    rng = np.random.default_rng(11)
    assert_parity(board, tmp_path, [encode_case(rng, i) for i in range(400)])


def test_frame_decode_parity(board, tmp_path):
    rng = np.random.default_rng(12)
    cases = [decode_case(rng, i) for i in range(500)]
    results = [run_reference(op, args)[0] for op, args in cases]
    assert sum(r != "r0" for r in results) > 100 and sum(r == "r0" for r in results) > 100
    assert_parity(board, tmp_path, cases)


def test_frame_decode_parity_on_single_bit_flips(board, tmp_path):
    rng = np.random.default_rng(13)
    cases = []
    for i in range(300):
        data = make_data(rng, int(rng.integers(1, 400)), KINDS[i % len(KINDS)])
        body = bytearray(wire_of(data)[3:])
        bit = int(rng.integers(0, 8 * len(body)))
        body[bit // 8] ^= 1 << (bit % 8)
        cases.append(("frame_decode", [bytearray(len(data) + 4), body, params(len(body))]))
    assert_parity(board, tmp_path, cases)


def payload_and_crc(data):
    return data + struct.pack("<I", zlib.crc32(data))


def test_crafted_bodies_parity(board, tmp_path):
    """Bodies the encoder never writes: a block holding 0x00 with a CRC that would match (not
    COBS), a last block of 0xFF with no 0x01 after it (COBS, a good frame), codes past the end."""
    rng = np.random.default_rng(17)
    cases = []
    for i in range(60):
        data = make_data(rng, int(rng.integers(1, 200)), "zeros")
        x = payload_and_crc(data)
        # every byte, 0x00 included, in blocks of up to 254 literal bytes
        body = b"".join(bytes([len(x[j:j + 254]) + 1]) + x[j:j + 254] for j in range(0, len(x), 254))
        cases.append(("frame_decode", [bytearray(len(x)), bytearray(body), params(len(body))]))
        # the nonzero payload whose x is exactly 254 non-zero bytes, in one block
        while True:
            data = make_data(rng, 250, "nonzero")
            x = payload_and_crc(data)
            if 0 not in x:
                break
        body = b"\xff" + x
        cases.append(("frame_decode", [bytearray(254), bytearray(body), params(len(body))]))
        cases.append(("frame_decode", [bytearray(254), bytearray(body + b"\x01"), params(len(body) + 1)]))
        cases.append(("frame_decode", [bytearray(254), bytearray(body + b"\x01\x01"), params(len(body) + 2)]))
        cases.append(("frame_decode", [bytearray(254), bytearray(body[:-1]), params(len(body) - 1)]))
        # a code one past the end, and a code byte 0x00
        body = bytearray(wire_of(make_data(rng, int(rng.integers(1, 300)), KINDS[i % len(KINDS)]))[3:])
        last = 0
        while last + body[last] < len(body):
            last += body[last]
        body[last] += 1 if body[last] < 0xFF else 0
        cases.append(("frame_decode", [bytearray(len(body) + 8), bytearray(body), params(len(body))]))
        body[0] = 0
        cases.append(("frame_decode", [bytearray(len(body) + 8), bytearray(body), params(len(body))]))
    results = [run_reference(op, args)[0] for op, args in cases]
    assert results[0::7] == ["r0"] * 60 and results[1::7] == ["r250"] * 60 and results[2::7] == ["r250"] * 60
    assert_parity(board, tmp_path, cases)


def test_copy_parity(board, tmp_path):
    rng = np.random.default_rng(14)
    assert_parity(board, tmp_path, [copy_case(rng) for _ in range(400)])


def test_largest_frames_parity(board, tmp_path):
    rng = np.random.default_rng(15)
    cases = []
    for kind in ("nonzero", "random", "runs"):
        data = make_data(rng, MAX_DATA, kind)
        room = frame.max_body(MAX_DATA + 4) + 3
        cases.append(("frame_encode", [bytearray(room), bytearray(data), params(MAX_DATA)]))
        cases.append(("frame_encode", [bytearray(room - 1), bytearray(data), params(MAX_DATA)]))
        body = wire_of(data)[3:]
        cases.append(("frame_decode", [bytearray(MAX_DATA + 4), bytearray(body), params(len(body))]))
        cases.append(("frame_decode", [bytearray(MAX_DATA + 3), bytearray(body), params(len(body))]))
    big = bytearray(MAX_DATA + 1)
    cases.append(("frame_encode", [bytearray(frame.max_body(MAX_DATA + 5) + 3), big, params(MAX_DATA + 1)]))
    assert_parity(board, tmp_path, cases, heap="512K")


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    data, out = bytearray(b"abc\x00d"), bytearray(64)
    body = bytearray(wire_of(bytes(data))[3:])
    big = 1 << 31
    cases = []
    for p in (params(), params(1, 2), bytearray(3), params(0), params(-1), params(6), params(big - 1),
              params(-big), params(5)):
        cases.append(("frame_encode", [bytearray(out), bytearray(data), p]))
    room = frame.max_body(5 + 4) + 3
    cases += [("frame_encode", [bytearray(room - 1), bytearray(data), params(5)]),
              ("frame_encode", [bytearray(room), bytearray(data), params(5)]),
              ("frame_encode", [bytearray(0), bytearray(data), params(1)]),
              ("frame_encode", [bytearray(0), bytearray(0), params(1)]),
              ("frame_encode", [bytearray(0), bytearray(data), params(9)])]  # params before output
    for p in (params(), params(1, 2), bytearray(5), params(-1), params(len(body) + 1), params(big - 1),
              params(-big), params(len(body)), params(0)):
        cases.append(("frame_decode", [bytearray(16), bytearray(body), p]))
    # 4 decoded bytes, the CRC of no data (0): not a frame, and out stays as it was.
    empty = frame.cobs_encode(struct.pack("<I", zlib.crc32(b"")))
    cases += [("frame_decode", [bytearray(b"\xaa" * 16), bytearray(empty), params(len(empty))]),
              ("frame_decode", [bytearray(b"\xaa" * 4), bytearray(empty), params(len(empty))]),
              ("frame_decode", [bytearray(0), bytearray(body), params(len(body))]),
              ("frame_decode", [bytearray(0), bytearray(0), params(0)]),
              ("frame_decode", [bytearray(0), bytearray(0), params(1)])]
    src, dst = bytearray(range(10)), bytearray(8)
    for p in (params(), params(0, 0), params(0, 0, 1, 0), bytearray(6), params(-1, 0, 1), params(0, -1, 1),
              params(0, 0, -1), params(0, 0, 11), params(0, 10, 1), params(0, 9, 1), params(8, 0, 1),
              params(7, 9, 1), params(0, 3, 8), params(0, 0, 9), params(0, 1, 9), params(big - 1, 0, 1),
              params(0, big - 1, 1), params(0, 0, big - 1), params(1, big - 1, big - 1), params(-big, 0, 0),
              params(8, 10, 0), params(9, 10, 0), params(8, 11, 0), params(2, 3, 6)):
        cases.append(("copy", [bytearray(dst), bytearray(src), p]))
    cases.append(("copy", [bytearray(0), bytearray(0), params(0, 0, 0)]))
    assert_parity(board, tmp_path, cases)


def test_copy_overlapping_on_the_board(board):
    """One object passed as both dst and src, and two overlapping views of one buffer (dst
    before and after src): memmove, never a forward copy that smears."""
    rng = np.random.default_rng(16)
    calls = []
    for _ in range(200):
        size = int(rng.integers(1, 80))
        n = int(rng.integers(0, size + 1))
        calls.append((size, int(rng.integers(0, size - n + 1)), int(rng.integers(0, size - n + 1)), n))
    script = f"""
        import qnn
        from array import array
        for size, d, s, n in {calls!r}:
            buf = bytearray(i * 7 + 3 & 0xFF for i in range(size))
            qnn.copy(buf, buf, array("i", [d, s, n]))
            print(bytes(buf).hex())
            # views: dst starts at byte a, src at byte b of one buffer
            buf = bytearray(i * 5 + 1 & 0xFF for i in range(size + 8))
            a, b = d % 8, s % 8
            qnn.copy(memoryview(buf)[a:], memoryview(buf)[b:], array("i", [d, s, n]))
            print(bytes(buf).hex())
        arr = array("i", range(16))
        qnn.copy(arr, arr, array("i", [4, 0, 40]))
        print(bytes(arr).hex())
    """
    expected = []
    for size, d, s, n in calls:
        buf = bytearray(i * 7 + 3 & 0xFF for i in range(size))
        expected.append(memmove_model(buf, d, s, n).hex())
        buf = bytearray(i * 5 + 1 & 0xFF for i in range(size + 8))
        a, b = d % 8, s % 8
        expected.append(memmove_model(buf, a + d, b + s, n).hex())
    arr = array("i", range(16))
    reference.copy(arr, arr, params(4, 0, 40))
    expected.append(bytes(arr).hex())
    assert board.run(script).split() == expected


def test_round_trip_on_the_board_with_any_buffer_type(board):
    """The board's own frames decode on the board and on the host, from memoryviews too."""
    out = board.run("""
        import qnn
        from array import array
        data = bytes(range(256)) * 3
        out = bytearray(800)
        k = qnn.frame_encode(memoryview(out), memoryview(data), array("i", [len(data)]))
        dec = array("b", bytes(len(data) + 4))
        m = qnn.frame_decode(dec, memoryview(out)[3:k], array("i", [k - 3]))
        print(k, m, bytes(dec)[:m] == data, bytes(out[:k]).hex())
    """).split()
    data = bytes(range(256)) * 3
    assert out[:3] == [str(len(wire_of(data))), str(len(data)), "True"]
    assert bytes.fromhex(out[3]) == wire_of(data)
