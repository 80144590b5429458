// The MicroPython face of qnn: turns buffer-protocol objects into typed spans, calls the
// kernel, and raises ValueError with a message for any error code. No logic lives here.
// It compiles two ways: as a dynamic native module (Makefile, py/dynruntime.mk) and as a user C
// module frozen into firmware (micropython.mk, micropython.cmake), whose code stays in flash.
#if MICROPY_ENABLE_DYNRUNTIME
#include "py/dynruntime.h"
#include "py/objarray.h"
#define raise_value_error_str(str) mp_raise_dyn(mp_obj_new_exception_arg1_dyn(&mp_type_ValueError, str))
#else
#include "py/binary.h"
#include "py/objarray.h"
#include "py/runtime.h"
#define raise_value_error_str(str) nlr_raise(mp_obj_new_exception_arg1(&mp_type_ValueError, str))
#endif
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
    raise_value_error_str(mp_obj_new_str(msg, n));
}

static mp_obj_t check(const char *op, int status) {
    if (status < 0) {
        raise_value_error(op, status_message(status));
    }
    return mp_obj_new_int(status);
}

// A Cortex-M0 faults on an int16 or int32 access at an address that is not a multiple of its
// size (a memoryview of a bytearray from an odd offset, say): such a buffer is an error. An empty
// one is never read, wherever it points.
static void check_aligned(const void *p, size_t len, size_t size, const char *what) {
    if ((size == 2 || size == 4) && len && (uintptr_t)p % size != 0) {
        raise_value_error(what, size == 4 ? "address is not a multiple of 4 (int32 elements)"
                                          : "address is not a multiple of 2 (int16 elements)");
    }
}

// Views of a buffer as elements of `size` bytes (1 or 4: the count is a shift, where a division
// was a libgcc call an argument on the Cortex-M0); a byte length that is not a whole number of
// elements is an error, never silently truncated.
static void *buffer(mp_obj_t obj, size_t size, size_t *n, mp_uint_t flags, const char *what) {
    mp_buffer_info_t info;
    mp_get_buffer_raise(obj, &info, flags);
    if ((info.len & (size - 1)) != 0) {
        raise_value_error(what, "byte length is not a multiple of 4 (int32 elements)");
    }
    check_aligned(info.buf, info.len, size, what);
    *n = info.len >> (size >> 1);
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

// The optional scratch of fully_connected, conv2d and add (qnn.h), argument i: none when not given.
static qnn_s8_t scratch_arg(size_t n_args, const mp_obj_t *args, size_t i) {
    return n_args > i ? out_s8(args[i], "scratch") : (qnn_s8_t){NULL, 0};
}

// (out, x, w, bias, multiplier, shift, params[, scratch]): fully_connected's and conv2d's argument list.
typedef int (*weighted_kernel_t)(qnn_s8_t, qnn_cs8_t, qnn_cs8_t, qnn_cs32_t, qnn_cs32_t, qnn_cs32_t, qnn_cs32_t,
                                 qnn_s8_t);
static mp_obj_t call_weighted(const char *op, weighted_kernel_t kernel, size_t n_args, const mp_obj_t *args) {
    return check(op, kernel(
        out_s8(args[0], "out"), in_s8(args[1], "x"), in_s8(args[2], "w"), in_s32(args[3], "bias"),
        in_s32(args[4], "multiplier"), in_s32(args[5], "shift"), in_s32(args[6], "params"),
        scratch_arg(n_args, args, 7)));
}

// fully_connected(out, x, w, bias, multiplier, shift, params[, scratch])
static mp_obj_t fully_connected(size_t n_args, const mp_obj_t *args) {
    return call_weighted("fully_connected", qnn_fully_connected_s8, n_args, args);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(fully_connected_obj, 7, 8, fully_connected);

// conv2d(out, x, w, bias, multiplier, shift, params[, scratch])
static mp_obj_t conv2d(size_t n_args, const mp_obj_t *args) {
    return call_weighted("conv2d", qnn_conv2d_s8, n_args, args);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(conv2d_obj, 7, 8, conv2d);

// depthwise_conv2d(out, x, w, bias, multiplier, shift, params)
static mp_obj_t depthwise_conv2d(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return check("depthwise_conv2d", qnn_depthwise_conv2d_s8(
        out_s8(args[0], "out"), in_s8(args[1], "x"), in_s8(args[2], "w"), in_s32(args[3], "bias"),
        in_s32(args[4], "multiplier"), in_s32(args[5], "shift"), in_s32(args[6], "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(depthwise_conv2d_obj, 7, 7, depthwise_conv2d);

// (out, x, params), int8 in and out: the pools', the framing's and copy's argument list.
typedef int (*s8_kernel_t)(qnn_s8_t, qnn_cs8_t, qnn_cs32_t);
static mp_obj_t call_s8(const char *op, s8_kernel_t kernel, mp_obj_t out, const char *out_name, mp_obj_t x,
                        const char *x_name, mp_obj_t params) {
    return check(op, kernel(out_s8(out, out_name), in_s8(x, x_name), in_s32(params, "params")));
}

// max_pool(out, x, params)
static mp_obj_t max_pool(mp_obj_t out, mp_obj_t x, mp_obj_t params) {
    return call_s8("max_pool", qnn_max_pool_s8, out, "out", x, "x", params);
}
static MP_DEFINE_CONST_FUN_OBJ_3(max_pool_obj, max_pool);

// avg_pool(out, x, params)
static mp_obj_t avg_pool(mp_obj_t out, mp_obj_t x, mp_obj_t params) {
    return call_s8("avg_pool", qnn_avg_pool_s8, out, "out", x, "x", params);
}
static MP_DEFINE_CONST_FUN_OBJ_3(avg_pool_obj, avg_pool);

// global_avg_pool(out, x, params)
static mp_obj_t global_avg_pool(mp_obj_t out, mp_obj_t x, mp_obj_t params) {
    return call_s8("global_avg_pool", qnn_global_avg_pool_s8, out, "out", x, "x", params);
}
static MP_DEFINE_CONST_FUN_OBJ_3(global_avg_pool_obj, global_avg_pool);

// add(out, a, b, params[, scratch])
static mp_obj_t add(size_t n_args, const mp_obj_t *args) {
    return check("add", qnn_add_s8(out_s8(args[0], "out"), in_s8(args[1], "a"), in_s8(args[2], "b"),
        in_s32(args[3], "params"), scratch_arg(n_args, args, 4)));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(add_obj, 4, 5, add);

// requantize(out, acc, multiplier, shift, params)
static mp_obj_t requantize(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return check("requantize", qnn_requantize_s8(out_s8(args[0], "out"), in_s32(args[1], "acc"),
        in_s32(args[2], "multiplier"), in_s32(args[3], "shift"), in_s32(args[4], "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(requantize_obj, 5, 5, requantize);

// argmax(out, x, params)
static mp_obj_t argmax(mp_obj_t out_obj, mp_obj_t x, mp_obj_t params) {
    qnn_s32_t out;
    out.p = buffer(out_obj, 4, &out.n, MP_BUFFER_WRITE, "out");
    return check("argmax", qnn_argmax_s8(out, in_s8(x, "x"), in_s32(params, "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_3(argmax_obj, argmax);

// ---- Random numbers and perturbation ----

// A writable int32 view: an output, or a tensor updated in place.
static qnn_s32_t rw_s32(mp_obj_t obj, const char *what) {
    qnn_s32_t s;
    s.p = buffer(obj, 4, &s.n, MP_BUFFER_RW, what);
    return s;
}

// A tensor typed by its buffer's element size (from the array typecode); each kernel rejects
// the sizes it does not take.
static qnn_any_t any_buffer(mp_obj_t obj, mp_uint_t flags, const char *what) {
    mp_buffer_info_t info;
    mp_get_buffer_raise(obj, &info, flags);
    qnn_any_t s = {info.buf, 0, mp_binary_get_size('@', info.typecode, NULL)};
    check_aligned(s.p, info.len, s.size, what);
    s.n = info.len / s.size;
    return s;
}

static qnn_cany_t any_in(mp_obj_t obj, const char *what) {
    qnn_any_t s = any_buffer(obj, MP_BUFFER_READ, what);
    return (qnn_cany_t){s.p, s.n, s.size};
}

// A scalar argument. A 64-bit port can pass ints beyond int32: those are bad parameters, not
// silently truncated ones.
static int32_t int32_arg(mp_obj_t obj, const char *op) {
    mp_int_t v = mp_obj_get_int(obj);
    if (v < INT32_MIN || v > INT32_MAX) {
        raise_value_error(op, status_message(QNN_ERR_PARAMS));
    }
    return (int32_t)v;
}

// perturb(t, mask, seed, sigma, sign)
static mp_obj_t perturb(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return check("perturb", qnn_perturb(any_buffer(args[0], MP_BUFFER_RW, "t"), out_s8(args[1], "mask"),
        int32_arg(args[2], "perturb"), int32_arg(args[3], "perturb"), int32_arg(args[4], "perturb")));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(perturb_obj, 5, 5, perturb);

// unperturb(t, mask, seed, sigma, sign)
static mp_obj_t unperturb(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return check("unperturb", qnn_unperturb(any_buffer(args[0], MP_BUFFER_RW, "t"), in_s8(args[1], "mask"),
        int32_arg(args[2], "unperturb"), int32_arg(args[3], "unperturb"), int32_arg(args[4], "unperturb")));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(unperturb_obj, 5, 5, unperturb);

// seeds(out, state)
static mp_obj_t seeds(mp_obj_t out, mp_obj_t state) {
    return check("seeds", qnn_seeds(rw_s32(out, "out"), rw_s32(state, "state")));
}
static MP_DEFINE_CONST_FUN_OBJ_2(seeds_obj, seeds);

// zo_update(w, seeds, coeffs, step_multiplier, step_shift, params)
static mp_obj_t zo_update(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return check("zo_update", qnn_zo_update(any_buffer(args[0], MP_BUFFER_RW, "w"), in_s32(args[1], "seeds"),
        in_s32(args[2], "coeffs"), in_s32(args[3], "step_multiplier"), in_s32(args[4], "step_shift"),
        in_s32(args[5], "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(zo_update_obj, 6, 6, zo_update);

// zo_node_gradient(g, y, seeds, coeffs, params)
static mp_obj_t zo_node_gradient(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return check("zo_node_gradient", qnn_zo_node_gradient(rw_s32(args[0], "g"), in_s8(args[1], "y"),
        in_s32(args[2], "seeds"), in_s32(args[3], "coeffs"), in_s32(args[4], "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(zo_node_gradient_obj, 5, 5, zo_node_gradient);

// fill(t, value)
static mp_obj_t fill(mp_obj_t t, mp_obj_t value) {
    return check("fill", qnn_fill(any_buffer(t, MP_BUFFER_WRITE, "t"), int32_arg(value, "fill")));
}
static MP_DEFINE_CONST_FUN_OBJ_2(fill_obj, fill);

// int32_view(view): the bytes of a memoryview (a slice of a planned arena) as int32 elements.
// MicroPython's memoryview has no cast(), and a kernel types an int8-or-int32 tensor by its
// buffer's typecode. The new view points into the middle of its parent's data, which the GC
// does not follow: the caller keeps the parent (the model's arena) alive.
static mp_obj_t int32_view(mp_obj_t view) {
    const mp_obj_type_t *memoryview_type = (const mp_obj_type_t *)MP_OBJ_TO_PTR(mp_load_global(MP_QSTR_memoryview));
    if (mp_obj_get_type(view) != memoryview_type) {
        raise_value_error("int32_view", "takes a memoryview");
    }
    size_t n;
    void *items = buffer(view, 4, &n, MP_BUFFER_RW, "view");
    mp_obj_array_t *typed = mp_obj_malloc(mp_obj_array_t, memoryview_type);
    typed->typecode = 'i' | MP_OBJ_ARRAY_TYPECODE_FLAG_RW;
    typed->free = 0;  // a memoryview's offset into items, in elements
    typed->len = n;
    typed->items = items;
    return MP_OBJ_FROM_PTR(typed);
}
static MP_DEFINE_CONST_FUN_OBJ_1(int32_view_obj, int32_view);

// ---- Gradients ----

// (gw or gx, x or w, g, params): the weight and input gradients' shared argument list.
typedef int (*grad_kernel_t)(qnn_s32_t, qnn_cs8_t, qnn_cany_t, qnn_cs32_t);
static mp_obj_t call_grad(const char *op, grad_kernel_t kernel, const mp_obj_t *args, const char *out, const char *in) {
    return check(op, kernel(rw_s32(args[0], out), in_s8(args[1], in), any_in(args[2], "g"), in_s32(args[3], "params")));
}

// <op>(out, x or w, g, params): one wrapper and its function object per gradient kernel.
#define GRAD_WRAPPER(op, out_name, in_name)                                          \
    static mp_obj_t op(size_t n_args, const mp_obj_t *args) {                        \
        (void)n_args;                                                                \
        return call_grad(#op, qnn_##op, args, out_name, in_name);                    \
    }                                                                                \
    static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(op##_obj, 4, 4, op);

GRAD_WRAPPER(fc_weight_grad, "gw", "x")
GRAD_WRAPPER(conv2d_weight_grad, "gw", "x")
GRAD_WRAPPER(depthwise_weight_grad, "gw", "x")
GRAD_WRAPPER(fc_input_grad, "gx", "w")
GRAD_WRAPPER(conv2d_input_grad, "gx", "w")
GRAD_WRAPPER(depthwise_input_grad, "gx", "w")

// max_pool_input_grad(gx, x, g, params), gx int8, int16 or int32
static mp_obj_t max_pool_input_grad(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return check("max_pool_input_grad", qnn_max_pool_input_grad(any_buffer(args[0], MP_BUFFER_WRITE, "gx"),
        in_s8(args[1], "x"), any_in(args[2], "g"), in_s32(args[3], "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(max_pool_input_grad_obj, 4, 4, max_pool_input_grad);

// avg_pool_input_grad(gx, g, params), gx int8, int16 or int32
static mp_obj_t avg_pool_input_grad(mp_obj_t gx, mp_obj_t g, mp_obj_t params) {
    return check("avg_pool_input_grad", qnn_avg_pool_input_grad(any_buffer(gx, MP_BUFFER_WRITE, "gx"),
        any_in(g, "g"), in_s32(params, "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_3(avg_pool_input_grad_obj, avg_pool_input_grad);

// (gb or gx, g, params): the gradients computed from g alone, and the norms' (out, g, params).
typedef int (*grad_of_g_kernel_t)(qnn_s32_t, qnn_cany_t, qnn_cs32_t);
static mp_obj_t call_grad_of_g(const char *op, grad_of_g_kernel_t kernel, mp_obj_t out, const char *out_name,
                               mp_obj_t g, mp_obj_t params) {
    return check(op, kernel(rw_s32(out, out_name), any_in(g, "g"), in_s32(params, "params")));
}

// <op>(out, g, params)
#define GRAD_OF_G_WRAPPER(op, out_name)                                              \
    static mp_obj_t op(mp_obj_t out, mp_obj_t g, mp_obj_t params) {                  \
        return call_grad_of_g(#op, qnn_##op, out, out_name, g, params);              \
    }                                                                                \
    static MP_DEFINE_CONST_FUN_OBJ_3(op##_obj, op);

GRAD_OF_G_WRAPPER(bias_grad, "gb")
GRAD_OF_G_WRAPPER(global_avg_pool_input_grad, "gx")

// clamp_mask(g, y, params)
static mp_obj_t clamp_mask(mp_obj_t g, mp_obj_t y, mp_obj_t params) {
    return check("clamp_mask", qnn_clamp_mask(any_buffer(g, MP_BUFFER_RW, "g"), in_s8(y, "y"), in_s32(params, "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_3(clamp_mask_obj, clamp_mask);

// ---- Updates, selection, loss ----

// quantize_s8(out, acc, params)
static mp_obj_t quantize_s8(mp_obj_t out, mp_obj_t acc, mp_obj_t params) {
    return check("quantize_s8", qnn_quantize_s8(out_s8(out, "out"), in_s32(acc, "acc"), in_s32(params, "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_3(quantize_s8_obj, quantize_s8);

// sgd_update(w, g, step_multiplier, step_shift, params)
static mp_obj_t sgd_update(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return check("sgd_update", qnn_sgd_update(any_buffer(args[0], MP_BUFFER_RW, "w"), in_s32(args[1], "g"),
        in_s32(args[2], "step_multiplier"), in_s32(args[3], "step_shift"), in_s32(args[4], "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(sgd_update_obj, 5, 5, sgd_update);

// row_norms(out, g, params)
static mp_obj_t row_norms(mp_obj_t out, mp_obj_t g, mp_obj_t params) {
    return call_grad_of_g("row_norms", qnn_row_norms, out, "out", g, params);
}
static MP_DEFINE_CONST_FUN_OBJ_3(row_norms_obj, row_norms);

// standardize(g, params)
static mp_obj_t standardize(mp_obj_t g, mp_obj_t params) {
    return check("standardize", qnn_standardize(rw_s32(g, "g"), in_s32(params, "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_2(standardize_obj, standardize);

// channel_norms(out, g, params)
static mp_obj_t channel_norms(mp_obj_t out, mp_obj_t g, mp_obj_t params) {
    return call_grad_of_g("channel_norms", qnn_channel_norms, out, "out", g, params);
}
static MP_DEFINE_CONST_FUN_OBJ_3(channel_norms_obj, channel_norms);

// topk(out, scores, params)
static mp_obj_t topk(mp_obj_t out, mp_obj_t scores, mp_obj_t params) {
    return check("topk", qnn_topk(rw_s32(out, "out"), in_s32(scores, "scores"), in_s32(params, "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_3(topk_obj, topk);

// cross_entropy(loss, grad, logits, labels, params)
static mp_obj_t cross_entropy(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return check("cross_entropy", qnn_cross_entropy(rw_s32(args[0], "loss"), out_s8(args[1], "grad"),
        in_s8(args[2], "logits"), in_s8(args[3], "labels"), in_s32(args[4], "params")));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(cross_entropy_obj, 5, 5, cross_entropy);

// ---- Utilities ----

// crc32(state, data): state is one int32 element, the running CRC, updated in place.
static mp_obj_t crc32(mp_obj_t state_obj, mp_obj_t data_obj) {
    qnn_s32_t state;
    state.p = buffer(state_obj, 4, &state.n, MP_BUFFER_RW, "state");
    mp_buffer_info_t data;
    mp_get_buffer_raise(data_obj, &data, MP_BUFFER_READ);
    return check("crc32", qnn_crc32(state, data.buf, data.len));
}
static MP_DEFINE_CONST_FUN_OBJ_2(crc32_obj, crc32);

// frame_encode(out, data, params): out and data any buffers, taken as bytes.
static mp_obj_t frame_encode(mp_obj_t out, mp_obj_t data, mp_obj_t params) {
    return call_s8("frame_encode", qnn_frame_encode, out, "out", data, "data", params);
}
static MP_DEFINE_CONST_FUN_OBJ_3(frame_encode_obj, frame_encode);

// frame_decode(out, body, params): out and body any buffers, taken as bytes; 0 for a bad frame.
static mp_obj_t frame_decode(mp_obj_t out, mp_obj_t body, mp_obj_t params) {
    return call_s8("frame_decode", qnn_frame_decode, out, "out", body, "body", params);
}
static MP_DEFINE_CONST_FUN_OBJ_3(frame_decode_obj, frame_decode);

// copy(dst, src, params): any buffers, taken as bytes; dst may be src itself.
static mp_obj_t copy(mp_obj_t dst, mp_obj_t src, mp_obj_t params) {
    return call_s8("copy", qnn_copy, dst, "dst", src, "src", params);
}
static MP_DEFINE_CONST_FUN_OBJ_3(copy_obj, copy);

// Every function of the module, for both ways of registering them. The qstrs are spelled out:
// the natmod build finds them in the source text, not in macro expansions.
#define QNN_FUNCTIONS(X) \
    X(MP_QSTR_fully_connected, fully_connected_obj) \
    X(MP_QSTR_int32_view, int32_view_obj) \
    X(MP_QSTR_conv2d, conv2d_obj) \
    X(MP_QSTR_depthwise_conv2d, depthwise_conv2d_obj) \
    X(MP_QSTR_max_pool, max_pool_obj) \
    X(MP_QSTR_avg_pool, avg_pool_obj) \
    X(MP_QSTR_global_avg_pool, global_avg_pool_obj) \
    X(MP_QSTR_add, add_obj) \
    X(MP_QSTR_requantize, requantize_obj) \
    X(MP_QSTR_argmax, argmax_obj) \
    X(MP_QSTR_perturb, perturb_obj) \
    X(MP_QSTR_unperturb, unperturb_obj) \
    X(MP_QSTR_seeds, seeds_obj) \
    X(MP_QSTR_zo_update, zo_update_obj) \
    X(MP_QSTR_zo_node_gradient, zo_node_gradient_obj) \
    X(MP_QSTR_fill, fill_obj) \
    X(MP_QSTR_fc_weight_grad, fc_weight_grad_obj) \
    X(MP_QSTR_conv2d_weight_grad, conv2d_weight_grad_obj) \
    X(MP_QSTR_depthwise_weight_grad, depthwise_weight_grad_obj) \
    X(MP_QSTR_bias_grad, bias_grad_obj) \
    X(MP_QSTR_fc_input_grad, fc_input_grad_obj) \
    X(MP_QSTR_conv2d_input_grad, conv2d_input_grad_obj) \
    X(MP_QSTR_depthwise_input_grad, depthwise_input_grad_obj) \
    X(MP_QSTR_avg_pool_input_grad, avg_pool_input_grad_obj) \
    X(MP_QSTR_max_pool_input_grad, max_pool_input_grad_obj) \
    X(MP_QSTR_global_avg_pool_input_grad, global_avg_pool_input_grad_obj) \
    X(MP_QSTR_clamp_mask, clamp_mask_obj) \
    X(MP_QSTR_quantize_s8, quantize_s8_obj) \
    X(MP_QSTR_sgd_update, sgd_update_obj) \
    X(MP_QSTR_row_norms, row_norms_obj) \
    X(MP_QSTR_topk, topk_obj) \
    X(MP_QSTR_standardize, standardize_obj) \
    X(MP_QSTR_channel_norms, channel_norms_obj) \
    X(MP_QSTR_cross_entropy, cross_entropy_obj) \
    X(MP_QSTR_crc32, crc32_obj) \
    X(MP_QSTR_frame_encode, frame_encode_obj) \
    X(MP_QSTR_frame_decode, frame_decode_obj) \
    X(MP_QSTR_copy, copy_obj)

#if MICROPY_ENABLE_DYNRUNTIME

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

#define STORE_GLOBAL(qstr, obj) mp_store_global(qstr, MP_OBJ_FROM_PTR(&obj));

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    QNN_FUNCTIONS(STORE_GLOBAL)
    mp_store_global(MP_QSTR_SCRATCH_PER_WEIGHT, MP_OBJ_NEW_SMALL_INT(QNN_SCRATCH_PER_WEIGHT));
    mp_store_global(MP_QSTR_ADD_SCRATCH, MP_OBJ_NEW_SMALL_INT(QNN_ADD_SCRATCH));
    MP_DYNRUNTIME_INIT_EXIT
}

#else

#define GLOBAL_ENTRY(qstr, obj) {MP_ROM_QSTR(qstr), MP_ROM_PTR(&obj)},

static const mp_rom_map_elem_t qnn_globals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_qnn)},
    QNN_FUNCTIONS(GLOBAL_ENTRY)
    {MP_ROM_QSTR(MP_QSTR_SCRATCH_PER_WEIGHT), MP_ROM_INT(QNN_SCRATCH_PER_WEIGHT)},
    {MP_ROM_QSTR(MP_QSTR_ADD_SCRATCH), MP_ROM_INT(QNN_ADD_SCRATCH)},
};
static MP_DEFINE_CONST_DICT(qnn_globals, qnn_globals_table);

const mp_obj_module_t qnn_user_cmodule = {
    .base = {&mp_type_module},
    .globals = (mp_obj_dict_t *)&qnn_globals,
};

MP_REGISTER_MODULE(MP_QSTR_qnn, qnn_user_cmodule);

#endif
