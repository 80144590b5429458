// frame_encode, frame_decode and copy for the harness (layouts in fuzz_kernels.h). The decoder
// gets what a serial line delivers: valid frames, frames with a flipped bit, a dropped, inserted
// or zeroed byte, truncated ones and random bytes, with n at and past the body's end and out one
// byte short. Beyond the sanitizers, every call is checked against its contract here: a frame
// encoded by qnn_frame_encode decodes back to its data, an intact frame decodes whenever its
// call is valid, a good decode carries its own CRC, and copy equals memmove.
#include <stdio.h>
#include <string.h>

#include "fuzz_kernels.h"

#define MAX_DATA 16314  // the longest data a frame holds (qnn.h)

static size_t max_body(size_t n) {
    return n + n / 254 + 1;
}

static void fail(const char *op, const char *what, const int32_t *p, int np) {
    fprintf(stderr, "%s: %s; harness params", op, what);
    for (int i = 0; i < np; i++) {
        fprintf(stderr, " %ld", (long)p[i]);
    }
    fprintf(stderr, "\n");
    abort();
}

static int32_t crc_of(const uint8_t *data, size_t n) {
    int32_t crc = 0;
    qnn_crc32((qnn_s32_t){&crc, 1}, data, n);
    return crc;
}

// Data of a kind: 0 random bytes (a few zeros), 1 no zero byte (codes of 0xFF), 2 mostly zeros,
// 3 non-zero runs of 253 to 256 bytes between zeros (the 254/255 edges of COBS).
static void fill_data(fuzz_t *f, uint8_t *p, size_t n, int32_t kind) {
    size_t run = 0, run_len = (size_t)fuzz_range(f, 253, 256);
    for (size_t i = 0; i < n; i++) {
        uint8_t byte = (uint8_t)fuzz_u32(f);
        switch (kind) {
            case 1: byte = byte ? byte : 0xFF; break;
            case 2: byte = fuzz_chance(f, 80) ? 0 : byte; break;
            case 3:
                if (run++ == run_len) {
                    byte = 0, run = 0, run_len = (size_t)fuzz_range(f, 253, 256);
                } else {
                    byte = byte ? byte : 1;
                }
                break;
            default: break;
        }
        p[i] = byte;
    }
}

// Decodes a frame that qnn_frame_encode wrote (k bytes) and checks it holds data[:n].
static void check_frame(fuzz_t *f, const uint8_t *wire, int k, const uint8_t *data, size_t n, const int32_t *p) {
    size_t len = (size_t)k - 3;
    if (k < 3 || len > max_body(n + 4) || wire[0] != 0 || !(wire[1] & 0x80) || !(wire[2] & 0x80) ||
        (size_t)((wire[1] & 0x7F) | (wire[2] & 0x7F) << 7) != len) {
        fail("frame_encode", "bad header or length", p, 2);
    }
    if (memchr(wire + 1, 0, len + 2)) {
        fail("frame_encode", "0x00 inside the frame", p, 2);
    }
    qnn_s8_t out = {fuzz_alloc(f, n + 4), n + 4};
    int32_t *params = fuzz_alloc(f, 4);
    params[0] = (int32_t)len;
    int got = qnn_frame_decode(out, (qnn_cs8_t){(const int8_t *)wire + 3, len}, (qnn_cs32_t){params, 1});
    if (got != (int)n || memcmp(out.p, data, n) != 0) {
        fail("frame_encode", "the frame does not decode to its data", p, 2);
    }
}

int call_frame_encode(fuzz_t *f, const int32_t *p) {
    size_t n = (size_t)p[0];
    qnn_cs8_t data = fuzz_cs8(f, n);
    fill_data(f, (uint8_t *)data.p, data.n, p[1]);
    qnn_s8_t out = fuzz_s8(f, max_body(n + 4) + 3);
    qnn_cs32_t params = fuzz_params(f, p, QNN_FRAME_NPARAMS);
    int status = qnn_frame_encode(out, data, params);
    if (status >= 0) {
        check_frame(f, (const uint8_t *)out.p, status, (const uint8_t *)data.p, (size_t)params.p[0], p);
    } else if (!f->hostile && n <= MAX_DATA) {
        fail("frame_encode", "rejected a valid call", p, 2);
    }
    return status;
}

// n mostly up to 600, sometimes at the largest frame, one past it, or 0.
static int32_t fuzz_data_len(fuzz_t *f, int32_t lo) {
    switch (fuzz_u32(f) % 32) {
        case 0: return MAX_DATA;
        case 1: return f->hostile ? MAX_DATA + 1 : MAX_DATA;
        case 2: return fuzz_range(f, 2000, MAX_DATA);
        case 3: return lo;
        default: return fuzz_range(f, lo, 600);
    }
}

void fuzz_frame_encode(fuzz_t *f) {
    int32_t p[HARNESS_FRAME_ENCODE_NPARAMS] = {fuzz_data_len(f, f->hostile ? 0 : 1), fuzz_range(f, 0, 3)};
    fuzz_done(f, call_frame_encode(f, p));
}

// The body as it arrives: the encoded frame with corruption p[1] (frame.c: 0 intact, 1 a flipped
// bit, 2 a dropped byte, 3 an inserted byte, 4 a byte set to 0x00, 5 truncated, 6 random bytes,
// 7 two bodies back to back) into body, which holds up to cap bytes. Returns its length.
static size_t corrupt(fuzz_t *f, const uint8_t *frame, size_t len, int32_t how, uint8_t *body, size_t cap) {
    size_t at = fuzz_u32(f) % len, n = len;
    memcpy(body, frame, len);
    switch (how) {
        case 1: body[at] ^= (uint8_t)(1u << fuzz_range(f, 0, 7)); break;
        case 2: memmove(body + at, body + at + 1, len - at - 1), n--; break;
        case 3: memmove(body + at + 1, body + at, len - at), body[at] = (uint8_t)fuzz_u32(f), n++; break;
        case 4: body[at] = 0; break;
        case 5: n = at; break;
        case 6: fill_data(f, body, n = fuzz_u32(f) % cap, fuzz_range(f, 0, 3)); break;
        case 7: memcpy(body + len, frame, len), n = 2 * len; break;
        default: break;
    }
    return n;
}

int call_frame_decode(fuzz_t *f, const int32_t *p) {
    size_t m = (size_t)p[0];
    uint8_t *data = fuzz_alloc(f, m);
    fill_data(f, data, m, p[3]);
    // The frame, built independently of qnn_frame_encode (COBS as the reference writes it).
    size_t cap = 2 * (max_body(m + 4) + 1);
    uint8_t *frame = fuzz_alloc(f, cap), *wire = fuzz_alloc(f, cap);
    int32_t crc = crc_of(data, m);
    size_t code_at = 0, len = 1;
    for (size_t i = 0; i < m + 4; i++) {
        uint8_t byte = i < m ? data[i] : (uint8_t)((uint32_t)crc >> (8 * (i - m)));
        if (byte) {
            frame[len++] = byte;
        }
        if (!byte || len - code_at == 0xFF) {
            frame[code_at] = (uint8_t)(len - code_at);
            code_at = len++;
        }
    }
    frame[code_at] = (uint8_t)(len - code_at);
    size_t n = corrupt(f, frame, len, p[1], wire, cap);
    // The body buffer: exactly n bytes, in hostile calls sometimes shorter or longer.
    qnn_s8_t body = fuzz_s8(f, n);
    memcpy(body.p, wire, n < body.n ? n : body.n);
    int32_t size = (int32_t)(m + 4) + p[2];
    qnn_s8_t out = fuzz_s8(f, size > 0 ? (size_t)size : 0);
    int32_t pn = (int32_t)n;
    qnn_cs32_t params = fuzz_params(f, &pn, QNN_FRAME_NPARAMS);
    int status = qnn_frame_decode(out, (qnn_cs8_t){body.p, body.n}, params);
    int valid = params.n == 1 && params.p[0] == pn && body.n >= n;
    if (status < 0 && valid) {
        fail("frame_decode", "rejected a valid call", p, 4);
    }
    if (status > 0) {  // a good frame's decoded bytes hold their own CRC
        const uint8_t *o = (const uint8_t *)out.p;
        if ((size_t)status + 4 > out.n) {
            fail("frame_decode", "returned more than out holds", p, 4);
        }
        uint32_t tail = o[status] | o[status + 1] << 8 | o[status + 2] << 16 | (uint32_t)o[status + 3] << 24;
        if ((uint32_t)crc_of(o, (size_t)status) != tail) {
            fail("frame_decode", "returned a frame whose CRC does not match", p, 4);
        }
    }
    if (valid && p[1] == 0) {  // an intact frame decodes exactly when out holds it
        int want = out.n >= m + 4 && m >= 1 ? (int)m : 0;
        if (status != want || (want && memcmp(out.p, data, m) != 0)) {
            fail("frame_decode", "an intact frame did not decode to its data", p, 4);
        }
    }
    if (p[1] == 1 && status > 0 && ((size_t)status != m || memcmp(out.p, data, m) != 0)) {
        fail("frame_decode", "a flipped bit went through with a matching CRC", p, 4);
    }
    return status;
}

void fuzz_frame_decode(fuzz_t *f) {
    int32_t slack = fuzz_chance(f, 30) ? -1 : (fuzz_chance(f, 50) ? 0 : fuzz_range(f, -8, 300));
    int32_t p[HARNESS_FRAME_DECODE_NPARAMS] = {fuzz_data_len(f, 0), fuzz_range(f, 0, 7), slack, fuzz_range(f, 0, 3)};
    fuzz_done(f, call_frame_decode(f, p));
}

int call_copy(fuzz_t *f, const int32_t *p) {
    size_t d = (size_t)p[0], s = (size_t)p[1], n = (size_t)p[2];
    qnn_s8_t dst, src;
    if (p[3]) {  // one buffer as both
        dst = fuzz_s8(f, (d > s ? d : s) + n);
        src = dst;
    } else {
        dst = fuzz_s8(f, d + n);
        src = fuzz_s8(f, s + n);
    }
    uint8_t *before = fuzz_alloc(f, src.n), *expected = fuzz_alloc(f, dst.n);
    memcpy(before, src.p, src.n);
    memcpy(expected, dst.p, dst.n);
    qnn_cs32_t params = fuzz_params(f, p, QNN_COPY_NPARAMS);
    int status = qnn_copy(dst, (qnn_cs8_t){src.p, src.n}, params);
    if (status == 0) {
        memmove(expected + params.p[0], before + params.p[1], (size_t)params.p[2]);
    }
    if (status > 0 || memcmp(expected, dst.p, dst.n) != 0) {
        fail("copy", "dst is not what memmove makes of it", p, 4);
    }
    return status;
}

void fuzz_copy(fuzz_t *f) {
    int32_t n = fuzz_chance(f, 10) ? 0 : fuzz_range(f, 1, 300), d = fuzz_range(f, 0, 300);
    int32_t s = fuzz_chance(f, 50) ? fuzz_range(f, 0, 300) : (int32_t)fuzz_range(f, d > 8 ? d - 8 : 0, d + 8);
    int32_t p[HARNESS_COPY_NPARAMS] = {d, s, n, fuzz_chance(f, 50)};
    fuzz_done(f, call_copy(f, p));
}
