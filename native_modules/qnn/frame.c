#include "qnn.h"

// Link framing (docs/protocol.md, device/mcutrain/reference/frame.py): a frame is 0x00, two
// length bytes, then the COBS encoding of the data followed by its CRC-32 (little endian).

#define FRAME_MAX_BODY ((1u << 14) - 1)  // what two 7-bit length bytes hold

// The longest COBS encoding of n bytes: one code byte per started run of 254 non-zero bytes.
static uint32_t max_body(uint32_t n) {
    return n + n / 254 + 1;
}

int qnn_frame_encode(qnn_s8_t out, qnn_cs8_t data, qnn_cs32_t params) {
    if (params.n != QNN_FRAME_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t n = params.p[0];
    // n <= MAX_BODY first: max_body(n + 4) cannot overflow after it.
    if (n < 1 || (size_t)n > data.n || (uint32_t)n > FRAME_MAX_BODY || max_body((uint32_t)n + 4) > FRAME_MAX_BODY) {
        return QNN_ERR_PARAMS;
    }
    if (out.n < (size_t)max_body((uint32_t)n + 4) + 3) {
        return QNN_ERR_OUTPUT_LEN;
    }
    const uint8_t *in = (const uint8_t *)data.p;
    int32_t crc = 0;
    qnn_crc32((qnn_s32_t){&crc, 1}, in, (size_t)n);
    uint8_t tail[4];
    for (int i = 0; i < 4; i++) {
        tail[i] = (uint8_t)((uint32_t)crc >> (8 * i));
    }
    // COBS of in[:n] + tail into body: each block's code byte is written when the block ends.
    // At most max_body(n + 4) bytes, which the check above gave out after the 3 header bytes.
    uint8_t *body = (uint8_t *)out.p + 3;
    size_t code_at = 0, len = 1;
    uint32_t code = 1;
    for (size_t i = 0; i < (size_t)n + 4; i++) {
        uint8_t byte = i < (size_t)n ? in[i] : tail[i - (size_t)n];
        if (byte != 0) {
            body[len++] = byte;
            code++;
        }
        if (byte == 0 || code == 0xFF) {
            body[code_at] = (uint8_t)code;
            code_at = len++;
            code = 1;
        }
    }
    body[code_at] = (uint8_t)code;
    uint8_t *head = (uint8_t *)out.p;
    head[0] = 0;
    head[1] = (uint8_t)(0x80 | (len & 0x7F));
    head[2] = (uint8_t)(0x80 | (len >> 7));
    return (int)(len + 3);
}

// Whether body[:n] is a COBS encoding (the reference's cobs_decode does not return None):
// every code byte non-zero, its block inside body[:n] and free of 0x00. Sets *len to the
// decoded length.
static int cobs_length(const uint8_t *body, size_t n, size_t *len) {
    size_t decoded = 0;
    for (size_t i = 0; i < n;) {
        size_t code = body[i];
        if (code == 0 || code > n - i) {
            return 0;
        }
        for (size_t j = i + 1; j < i + code; j++) {
            if (body[j] == 0) {
                return 0;
            }
        }
        decoded += code - 1;
        i += code;
        if (code < 0xFF && i < n) {
            decoded++;  // the block ends in a 0x00
        }
    }
    *len = decoded;
    return 1;
}

// The decoded bytes [from, to) of a COBS body[:n] that cobs_length accepted, to <= its length:
// copied to dst[0, to - from) if dst is not NULL, else fed to the running CRC in state.
static void cobs_span(const uint8_t *body, size_t n, size_t from, size_t to, uint8_t *dst, qnn_s32_t state) {
    const uint8_t zero = 0;
    size_t pos = 0;  // decoded position of body[i + 1]
    for (size_t i = 0; i < n && pos < to;) {
        size_t code = body[i];
        if (code == 0 || code > n - i) {
            return;  // not reached for an accepted body; keeps every read inside it regardless
        }
        // The block's code - 1 data bytes at pos, clipped to [from, to).
        size_t k = code - 1, lo = from > pos ? from - pos : 0, hi = to - pos < k ? to - pos : k;
        if (lo < hi) {
            const uint8_t *run = body + i + 1 + lo;
            if (dst) {
                uint8_t *o = dst + (pos + lo - from);
                for (size_t j = 0; j < hi - lo; j++) {
                    o[j] = run[j];
                }
            } else {
                qnn_crc32(state, run, hi - lo);
            }
        }
        pos += k;
        i += code;
        if (code < 0xFF && i < n) {
            if (pos >= from && pos < to) {
                if (dst) {
                    dst[pos - from] = 0;
                } else {
                    qnn_crc32(state, &zero, 1);
                }
            }
            pos++;
        }
    }
}

// Checks everything before it writes: out is untouched unless the frame is good (the reference
// leaves it so too). Four passes over the body: validate, CRC, the 4 CRC bytes, copy.
int qnn_frame_decode(qnn_s8_t out, qnn_cs8_t body, qnn_cs32_t params) {
    if (params.n != QNN_FRAME_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t n = params.p[0];
    if (n < 0 || (size_t)n > body.n) {
        return QNN_ERR_PARAMS;
    }
    const uint8_t *in = (const uint8_t *)body.p;
    size_t len;
    if (!cobs_length(in, (size_t)n, &len) || len < 5 || len > out.n) {
        return 0;
    }
    int32_t crc = 0;
    qnn_s32_t state = {&crc, 1};
    cobs_span(in, (size_t)n, 0, len - 4, NULL, state);
    uint8_t tail[4];
    cobs_span(in, (size_t)n, len - 4, len, tail, state);
    uint32_t expected = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
    if ((uint32_t)crc != expected) {
        return 0;
    }
    cobs_span(in, (size_t)n, 0, len, (uint8_t *)out.p, state);
    return (int)(len - 4);  // len <= n < 2^31
}

int qnn_copy(qnn_s8_t dst, qnn_cs8_t src, qnn_cs32_t params) {
    if (params.n != QNN_COPY_NPARAMS) {
        return QNN_ERR_PARAMS;
    }
    int32_t d = params.p[0], s = params.p[1], n = params.p[2];
    if (d < 0 || s < 0 || n < 0) {
        return QNN_ERR_PARAMS;
    }
    if ((size_t)s > src.n || (size_t)n > src.n - (size_t)s) {
        return QNN_ERR_INPUT_LEN;
    }
    if ((size_t)d > dst.n || (size_t)n > dst.n - (size_t)d) {
        return QNN_ERR_OUTPUT_LEN;
    }
    if (n == 0) {
        return QNN_OK;  // an empty buffer's pointer may be NULL: no arithmetic on it
    }
    const uint8_t *from = (const uint8_t *)src.p + s;
    uint8_t *to = (uint8_t *)dst.p + d;
    // memmove: dst and src may overlap (one buffer, or two views of one). Compare addresses as
    // integers, since < between pointers into different objects is undefined.
    if ((uintptr_t)to <= (uintptr_t)from) {
        for (size_t i = 0; i < (size_t)n; i++) {
            to[i] = from[i];
        }
    } else {
        for (size_t i = (size_t)n; i-- > 0;) {
            to[i] = from[i];
        }
    }
    return QNN_OK;
}
