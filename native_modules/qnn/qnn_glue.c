// The MicroPython face of qnn: turns buffer-protocol objects into typed spans, calls the
// kernel, and raises ValueError with a message for any error code. No logic lives here.
#include "py/dynruntime.h"
#include "qnn.h"

static const char *status_message(int status) {
    switch (status) {
        case QNN_ERR_PARAMS: return "bad parameters";
        case QNN_ERR_INPUT_LEN: return "input buffer length does not match the shape";
        case QNN_ERR_WEIGHT_LEN: return "weight buffer length does not match the shape";
        case QNN_ERR_BIAS_LEN: return "bias, multiplier or shift length does not match the channels";
        case QNN_ERR_OUTPUT_LEN: return "output buffer length does not match the shape";
        case QNN_ERR_AUX_LEN: return "auxiliary buffer length does not match the shape";
        default: return "kernel failed";
    }
}

// The dynamic runtime has no formatted raise: build "<a>: <b>" on the stack.
static NORETURN void raise_value_error(const char *a, const char *b) {
    char msg[128];
    size_t n = 0;
    for (const char *parts[3] = {a, ": ", b}, **part = parts; part < parts + 3; part++) {
        for (const char *c = *part; *c && n < sizeof(msg); c++) {
            msg[n++] = *c;
        }
    }
    mp_raise_dyn(mp_obj_new_exception_arg1_dyn(&mp_type_ValueError, mp_obj_new_str(msg, n)));
}

static mp_obj_t check(const char *op, int status) {
    if (status < 0) {
        raise_value_error(op, status_message(status));
    }
    return mp_obj_new_int(status);
}

// Views of a buffer as elements of `size` bytes; a byte length that is not a whole number
// of elements is an error, never silently truncated.
static void *buffer(mp_obj_t obj, size_t size, size_t *n, mp_uint_t flags, const char *what) {
    mp_buffer_info_t info;
    mp_get_buffer_raise(obj, &info, flags);
    if (info.len % size != 0) {
        raise_value_error(what, size == 4 ? "byte length is not a multiple of 4 (int32 elements)"
                                          : "byte length is not a multiple of 2 (int16 elements)");
    }
    *n = info.len / size;
    return info.buf;
}

static qnn_cs8_t in_s8(mp_obj_t obj, const char *what) {
    qnn_cs8_t s;
    s.p = buffer(obj, 1, &s.n, MP_BUFFER_READ, what);
    return s;
}

static qnn_s8_t out_s8(mp_obj_t obj, const char *what) {
    qnn_s8_t s;
    s.p = buffer(obj, 1, &s.n, MP_BUFFER_WRITE, what);
    return s;
}

static qnn_cs32_t in_s32(mp_obj_t obj, const char *what) {
    qnn_cs32_t s;
    s.p = buffer(obj, 4, &s.n, MP_BUFFER_READ, what);
    return s;
}

// ---- Forward ops ----

// fully_connected(out, x, w, bias, multiplier, shift, params)
static mp_obj_t fully_connected(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return check("fully_connected", qnn_fully_connected_s8(
        out_s8(args[0], "out"), in_s8(args[1], "x"), in_s8(args[2], "w"), in_s32(args[3], "bias"),
        in_s32(args[4], "multiplier"), in_s32(args[5], "shift"), in_s32(args[6], "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(fully_connected_obj, 7, 7, fully_connected);

// ---- Random numbers and perturbation ----

// ---- Gradients ----

// ---- Updates, selection, loss ----

// The natmod links no libc; GCC may still emit calls to these for struct copies and loops.
void *memcpy(void *dst, const void *src, size_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) {
        *d++ = *s++;
    }
    return dst;
}

void *memset(void *dst, int value, size_t n) {
    uint8_t *d = dst;
    while (n--) {
        *d++ = (uint8_t)value;
    }
    return dst;
}

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY

    // Forward ops
    mp_store_global(MP_QSTR_fully_connected, MP_OBJ_FROM_PTR(&fully_connected_obj));
    // Random numbers and perturbation
    // Gradients
    // Updates, selection, loss

    MP_DYNRUNTIME_INIT_EXIT
}
