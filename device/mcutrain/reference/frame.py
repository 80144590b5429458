"""Link framing (docs/protocol.md): a frame on the wire is 0x00, two length bytes, then the COBS
encoding of the data followed by its CRC-32. COBS leaves no 0x00 inside, so a receiver that lost
its place resynchronises at the next 0x00; the length bytes (7 bits each, high bit set, never
0x00) let a board read a whole frame with one exact read."""

import struct
import zlib

from mcutrain.reference import buffers as B

MAX_BODY = (1 << 14) - 1  # what two 7-bit length bytes hold


def max_body(n):
    """The longest COBS encoding of n bytes: one code byte per started run of 254."""
    return n + n // 254 + 1


def cobs_encode(data):
    out = bytearray(b"\x00")
    code_at, code = 0, 1
    for byte in data:
        if byte == 0:
            out[code_at] = code
            code_at, code = len(out), 1
            out.append(0)
        else:
            out.append(byte)
            code += 1
            if code == 0xFF:
                out[code_at] = code
                code_at, code = len(out), 1
                out.append(0)
    out[code_at] = code
    return bytes(out)


def cobs_decode(body):
    """The decoded bytes, or None if body is not a COBS encoding."""
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        code = body[i]
        end = i + code
        if code == 0 or end > n or 0 in body[i + 1:end]:
            return None
        out += body[i + 1:end]
        i = end
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)


def frame_encode(out, data, params):
    """out[:k] = 0x00, 0x80 | L & 0x7F, 0x80 | L >> 7, COBS(data[:n] + crc32(data[:n]) as u32 LE),
    L the COBS length; returns k = L + 3. params: [n], 1 <= n <= len(data), max_body(n + 4) <=
    MAX_BODY. out must hold max_body(n + 4) + 3 bytes whatever the data."""
    p = B.params("frame_encode", params, 1)
    data = memoryview(data).cast("B")
    n = p[0]
    B.require("frame_encode", 1 <= n <= len(data) and max_body(n + 4) <= MAX_BODY, "params")
    out = memoryview(out).cast("B")
    B.require("frame_encode", len(out) >= max_body(n + 4) + 3, "output")
    payload = bytes(data[:n])
    body = cobs_encode(payload + struct.pack("<I", zlib.crc32(payload)))
    wire = bytes((0, 0x80 | (len(body) & 0x7F), 0x80 | (len(body) >> 7))) + body
    out[:len(wire)] = wire
    return len(wire)


def frame_decode(out, body, params):
    """Decodes the COBS body[:n] into out (the data, then its 4 CRC bytes) and returns the data's
    length; returns 0 when body[:n] is not a frame: not COBS, shorter than data plus CRC, larger
    than out, or a CRC that does not match. After a 0 the content of out is unspecified.
    params: [n], 0 <= n <= len(body)."""
    p = B.params("frame_decode", params, 1)
    body = memoryview(body).cast("B")
    n = p[0]
    B.require("frame_decode", 0 <= n <= len(body), "params")
    out = memoryview(out).cast("B")
    decoded = cobs_decode(bytes(body[:n]))
    if decoded is None or not 5 <= len(decoded) <= len(out):
        return 0
    data, crc = decoded[:-4], struct.unpack("<I", decoded[-4:])[0]
    if zlib.crc32(data) != crc:
        return 0
    out[:len(decoded)] = decoded
    return len(data)


def copy(dst, src, params):
    """dst[d:d + n] = src[s:s + n] in bytes, as memmove (dst and src may be one buffer); returns 0.
    params: [d, s, n], each >= 0; the ranges must lie inside the buffers."""
    d, s, n = B.params("copy", params, 3)
    B.require("copy", min(d, s, n) >= 0, "params")
    src = memoryview(src).cast("B")
    B.require("copy", s + n <= len(src), "input")
    dst = memoryview(dst).cast("B")
    B.require("copy", d + n <= len(dst), "output")
    dst[d:d + n] = bytes(src[s:s + n])
    return 0
