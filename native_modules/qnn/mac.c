#include "mac.h"
#include "asm_function.h"

// The plain loop: the channels left over from the groups of four on every core, and the reference
// of the paths below.
static uint32_t mac1(const int8_t *x, const int8_t *w, size_t n, int32_t zp) {
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc += (uint32_t)(((int32_t)x[i] - zp) * (int32_t)w[i]);
    }
    return acc;
}

// depthwise's: one channel of a window row, whose taps are `step` (the channel count) apart in
// input and weights alike.
static uint32_t dw1(const int8_t *x, const int8_t *w, size_t taps, size_t step, int32_t zp) {
    uint32_t acc = 0;
    for (size_t t = 0; t < taps; t++, x += step, w += step) {
        acc += (uint32_t)(((int32_t)*x - zp) * (int32_t)*w);
    }
    return acc;
}

#if defined(__ARM_FEATURE_DSP) || defined(__ARM_ARCH_6M__)
// The assembly below reads qnn_mac_t's fields at these offsets.
#include <stddef.h>
_Static_assert(offsetof(qnn_mac_t, filter_step) == 16 && offsetof(qnn_mac_t, x_row) == 20
               && offsetof(qnn_mac_t, w_row) == 24 && offsetof(qnn_mac_t, run) == 28
               && offsetof(qnn_mac_t, rows) == 32 && offsetof(qnn_mac_t, in_zp) == 40
               && offsetof(qnn_mac_t, wide_step) == 68, "qnn_mac_t's layout");
#endif

// mac4: acc[j] += sum over i < n of (x[i] - zp) * w[j * w_step + i] for four output channels j,
// which share each input load and its zero-point offset where a core can hold four sums. One path
// per core, each giving the plain loop's sums exactly: int32 arithmetic wrapping modulo 2^32.
#if defined(__ARM_FEATURE_DSP)
#include "dsp.h"

// Cortex-M4/M7 (DSP extension): four taps per step as two pairs of 16-bit lanes. SXTAB16 sign-
// extends bytes 0 and 2 (or 1 and 3, rotated by 8) and adds -zp to each lane: x - zp is in
// [-255, 255], so the lanes never wrap; SMLAD adds both lane products to an accumulator, wrapping
// modulo 2^32 like the plain sum. The pairs group the taps differently, which changes no sum.
static void mac4(uint32_t acc[4], const int8_t *x, const int8_t *w, size_t w_step, size_t n, int32_t zp) {
    // One index i, counting up to 0 from below, addresses every row from its end, and its increment
    // sets the loop's flags: no loop bound to keep. That leaves 15 live values (six addresses, four
    // sums, the offset, two input lanes, a weight word and its lanes) for 14 registers: one reload
    // per step (the Makefile keeps GCC's scheduling from adding more).
    size_t words = n & ~(size_t)3;
    const int8_t *x_end = x + words, *w0 = w + words, *w1 = w0 + w_step, *w2 = w1 + w_step, *w3 = w2 + w_step;
    uint32_t offset = (uint32_t)(-zp) & 0xFFFF;
    offset |= offset << 16;
    uint32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (ptrdiff_t i = -(ptrdiff_t)words; i; i += 4) {
        uint32_t v = load4(x_end + i);
        int32_t even = __sxtab16(offset, v), odd = sxtab16_ror8(offset, v);
        v = load4(w0 + i);
        a0 = (uint32_t)__smlad(even, __sxtb16(v), (int32_t)a0);
        a0 = (uint32_t)__smlad(odd, sxtb16_ror8(v), (int32_t)a0);
        v = load4(w1 + i);
        a1 = (uint32_t)__smlad(even, __sxtb16(v), (int32_t)a1);
        a1 = (uint32_t)__smlad(odd, sxtb16_ror8(v), (int32_t)a1);
        v = load4(w2 + i);
        a2 = (uint32_t)__smlad(even, __sxtb16(v), (int32_t)a2);
        a2 = (uint32_t)__smlad(odd, sxtb16_ror8(v), (int32_t)a2);
        v = load4(w3 + i);
        a3 = (uint32_t)__smlad(even, __sxtb16(v), (int32_t)a3);
        a3 = (uint32_t)__smlad(odd, sxtb16_ror8(v), (int32_t)a3);
    }
    for (size_t i = 0; i < (n & 3); i++) {
        int32_t d = (int32_t)x_end[i] - zp;
        a0 += (uint32_t)(d * w0[i]), a1 += (uint32_t)(d * w1[i]);
        a2 += (uint32_t)(d * w2[i]), a3 += (uint32_t)(d * w3[i]);
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

// The frame of the M4's group loops below: [sp] the rows left, [sp, #12] x, [sp, #16] the group's
// weights, [sp, #20] m. A group starts at the window's first row: m into r3, x into r1, the
// weights into r2.
#define M4_GROUP_ROWS "ldr r3, [sp, #20]\n" "ldr r0, [r3, #32]\n" "str r0, [sp]\n" "ldr r1, [sp, #12]\n" \
    "ldr r2, [sp, #16]\n"

// dw4_groups: acc[4g + j] += sum over the window's taps of (x - zp) * w for `groups` groups of four
// adjacent depthwise channels, group g's at x + 4g and w + 4g, each tap one word of each, every
// row and every group in one call with the sums in registers. SMLABB and SMLATT multiply one lane
// each (bytes 0 and 2, or 1 and 3), wrapping modulo 2^32 like the plain sum. One index i steps
// input and weights alike, and ends each row: 13 instructions a tap, about 25 a group and 8 a
// further row, where GCC 12's loop in C, a call a group, spent about 60 a group.
// void qnn_dw4_groups_m4(uint32_t *acc, const int8_t *x, const int8_t *w, const qnn_mac_t *m,
//                        int32_t groups), m->run >= 1, m->rows >= 1, groups >= 1; x and w at the
// window's first row, of the first group's first channel.
void qnn_dw4_groups_m4(uint32_t *acc, const int8_t *x, const int8_t *w, const qnn_mac_t *m, int32_t groups);
__asm__(
    QNN_ASM_BEGIN(qnn_dw4_groups_m4)
    "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n"
    "push {r0, r1, r2, r3}\n"
    "sub sp, #8\n"                // [sp]: rows left; acc at [sp, #8], x at [sp, #12], w at [sp, #16],
                                  // m at [sp, #20]; groups at [sp, #60]
    "ldr r12, [r3, #40]\n"
    "rsb r12, r12, #0\n"
    "uxth r12, r12\n"
    "orr r12, r12, r12, lsl #16\n" // -in_zp in both lanes
    "ldr r7, [r3, #36]\n"         // out_c: the step from tap to tap
    "ldr r6, [r3, #28]\n"
    "mul r6, r6, r7\n"            // a row's span: run taps
    "3:\n"
    "ldr r0, [sp, #8]\n"
    "ldm r0, {r8, r9, r10, r11}\n" // the group's sums so far
    M4_GROUP_ROWS
    "2:\n"
    "movs r5, #0\n"               // i
    "1:\n"
    "ldr r0, [r1, r5]\n"
    "ldr r4, [r2, r5]\n"
    "sxtab16 lr, r12, r0\n"       // x - zp, channels 0 and 2
    "sxtab16 r0, r12, r0, ror #8\n" // and 1 and 3
    "sxtb16 r3, r4\n"
    "sxtb16 r4, r4, ror #8\n"
    "smlabb r8, lr, r3, r8\n"
    "smlabb r9, r0, r4, r9\n"
    "smlatt r10, lr, r3, r10\n"
    "smlatt r11, r0, r4, r11\n"
    "add r5, r5, r7\n"
    "cmp r5, r6\n"
    "bne 1b\n"
    "ldr r0, [sp]\n"
    "subs r0, #1\n"
    "beq 9f\n"
    "str r0, [sp]\n"
    "ldr r3, [sp, #20]\n"
    "ldr r0, [r3, #20]\n"
    "add r1, r1, r0\n"            // the next row: x_row on in x, w_row in w
    "ldr r0, [r3, #24]\n"
    "add r2, r2, r0\n"
    "b 2b\n"
    "9:\n"
    "ldr r0, [sp, #8]\n"
    "stm r0!, {r8, r9, r10, r11}\n"
    "str r0, [sp, #8]\n"
    "ldr r0, [sp, #12]\n"
    "adds r0, #4\n"
    "str r0, [sp, #12]\n"
    "ldr r0, [sp, #16]\n"
    "adds r0, #4\n"
    "str r0, [sp, #16]\n"
    "ldr r0, [sp, #60]\n"
    "subs r0, #1\n"
    "str r0, [sp, #60]\n"
    "bne 3b\n"
    "add sp, #24\n"
    "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n"
    QNN_ASM_END(qnn_dw4_groups_m4));

#define DW4_GROUPS qnn_dw4_groups_m4

// The same sums over widened weights (qnn_start_pass), every row of the window and every group of
// four output channels in one call, each group from its biases: each weight word is a lane pair
// as SMLAD takes it, so a step of four taps and four channels loads the input word, makes its two
// lane pairs, loads eight weight words with two LDMs and multiplies: 15 instructions, no SXTB16 of
// the weights (GCC 12's loop of the same in C: 23, a load a word). About 20 instructions a group
// and 10 a further row, where a call a group and its biases' copy in C cost about 60.
// void qnn_mac4w_groups_m4(uint32_t *acc, const int8_t *x, const int32_t *wide, const qnn_mac_t *m,
//                          const int32_t *bias, int32_t groups),
// m->run a multiple of 4 and >= 4, m->rows >= 1, groups >= 1; x and wide (of the first group) at
// the window's first row.
void qnn_mac4w_groups_m4(uint32_t *acc, const int8_t *x, const int32_t *wide, const qnn_mac_t *m,
                         const int32_t *bias, int32_t groups);
__asm__(
    QNN_ASM_BEGIN(qnn_mac4w_groups_m4)
    "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n"
    "push {r0, r1, r2, r3}\n"
    "sub sp, #8\n"                // [sp]: rows left; acc at [sp, #8], x at [sp, #12], the group's
                                  // widened weights at [sp, #16], m at [sp, #20]; bias at [sp, #60],
                                  // groups at [sp, #64]
    "ldr r12, [r3, #40]\n"
    "rsb r12, r12, #0\n"
    "uxth r12, r12\n"
    "orr r12, r12, r12, lsl #16\n" // -in_zp in both lanes
    "3:\n"
    "ldr r0, [sp, #60]\n"
    "ldm r0!, {r8, r9, r10, r11}\n" // the group's biases, its sums
    "str r0, [sp, #60]\n"
    M4_GROUP_ROWS
    "2:\n"
    "ldr lr, [r3, #28]\n"         // run
    "add r3, r1, lr\n"            // the row's end in x
    "1:\n"
    "ldr r0, [r1], #4\n"
    "sxtab16 lr, r12, r0\n"
    "sxtab16 r0, r12, r0, ror #8\n"
    "ldm r2!, {r4, r5, r6, r7}\n"
    "smlad r8, lr, r4, r8\n"
    "smlad r8, r0, r5, r8\n"
    "smlad r9, lr, r6, r9\n"
    "smlad r9, r0, r7, r9\n"
    "ldm r2!, {r4, r5, r6, r7}\n"
    "smlad r10, lr, r4, r10\n"
    "smlad r10, r0, r5, r10\n"
    "smlad r11, lr, r6, r11\n"
    "smlad r11, r0, r7, r11\n"
    "cmp r1, r3\n"
    "bne 1b\n"
    "ldr r3, [sp, #20]\n"
    "ldr r0, [sp]\n"
    "subs r0, #1\n"
    "beq 9f\n"
    "str r0, [sp]\n"
    "ldr lr, [r3, #28]\n"
    "ldr r4, [r3, #20]\n"
    "sub r4, r4, lr\n"
    "add r1, r1, r4\n"            // the next row: x_row - run on from this row's end
    "ldr r4, [r3, #24]\n"
    "sub r4, r4, lr\n"
    "add r2, r2, r4, lsl #3\n"    // and w_row - run taps of 8 bytes in wide
    "b 2b\n"
    "9:\n"
    "ldr r0, [sp, #8]\n"
    "stm r0!, {r8, r9, r10, r11}\n"
    "str r0, [sp, #8]\n"
    "ldr r0, [r3, #68]\n"
    "ldr r1, [sp, #16]\n"
    "add r1, r1, r0, lsl #3\n"    // the next group's widened weights: wide_step taps of 8 bytes on
    "str r1, [sp, #16]\n"
    "ldr r0, [sp, #64]\n"
    "subs r0, #1\n"
    "str r0, [sp, #64]\n"
    "bne 3b\n"
    "add sp, #24\n"
    "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n"
    QNN_ASM_END(qnn_mac4w_groups_m4));
#define MAC4W_GROUPS qnn_mac4w_groups_m4
#elif defined(__ARM_ARCH_6M__)
// Cortex-M0: Thumb-1 loads a signed byte only from base + register, so one index i, counting up
// to 0 (its increment sets the loop's flags), reads input and all four weight rows, from their
// ends; -zp and the sums live in high registers, which ADD reaches. 16 instructions per tap: 4
// per MAC. A function of its own in assembly: GCC 12 compiles the loop in C to 22 instructions per
// tap, and around an inline-assembly loop it spends about 65 instructions per call moving the
// sums and addresses between registers and the stack. One call runs every row of the window:
// 35 instructions per call and 14 per further row, where a call per row cost about 50 each (a
// 3x3 window of one input channel has 3 taps a row).
// void qnn_mac4_m0(uint32_t acc[4], const int8_t *x, const int8_t *w, const qnn_mac_t *m),
// m->run >= 1 and m->rows >= 1; x and w at the window's first row, w of channel 0.
void qnn_mac4_m0(uint32_t acc[4], const int8_t *x, const int8_t *w, const qnn_mac_t *m);
__asm__(
    QNN_ASM_BEGIN(qnn_mac4_m0)
    "push {r4, r5, r6, r7, lr}\n"
    SAVE_HIGH_REGISTERS
    "sub sp, #8\n"                // [sp]: m; [sp, #4]: rows left
    "str r3, [sp]\n"
    "ldr r4, [r3, #32]\n"
    "str r4, [sp, #4]\n"
    "mov lr, r0\n"                // acc
    "ldm r0!, {r4, r5, r6, r7}\n"
    R4_R7_TO_HIGH                 // the sums
    "ldr r0, [r3, #40]\n"
    "negs r0, r0\n"
    "mov r12, r0\n"               // -in_zp
    "ldr r0, [r3, #28]\n"         // run
    "adds r1, r1, r0\n"           // the ends of the first row: input, then channels 0 to 3
    "adds r2, r2, r0\n"
    "ldr r3, [r3, #16]\n"
    "adds r4, r2, r3\n"
    "adds r5, r4, r3\n"
    "adds r6, r5, r3\n"
    "2:\n"
    "negs r0, r0\n"
    "1:\n"
    "ldrsb r7, [r1, r0]\n"
    "add r7, r12\n"
    "ldrsb r3, [r2, r0]\n"
    "muls r3, r7, r3\n"
    "add r8, r3\n"
    "ldrsb r3, [r4, r0]\n"
    "muls r3, r7, r3\n"
    "add r9, r3\n"
    "ldrsb r3, [r5, r0]\n"
    "muls r3, r7, r3\n"
    "add r10, r3\n"
    "ldrsb r3, [r6, r0]\n"
    "muls r3, r7, r3\n"
    "add r11, r3\n"
    "adds r0, #1\n"
    "bne 1b\n"
    "ldr r3, [sp, #4]\n"
    "subs r3, #1\n"
    "beq 9f\n"
    "str r3, [sp, #4]\n"
    "ldr r3, [sp]\n"
    "ldr r0, [r3, #20]\n"         // the next row: input x_row on, weights w_row on
    "adds r1, r1, r0\n"
    "ldr r0, [r3, #24]\n"
    "adds r2, r2, r0\n"
    "adds r4, r4, r0\n"
    "adds r5, r5, r0\n"
    "adds r6, r6, r0\n"
    "ldr r0, [r3, #28]\n"
    "b 2b\n"
    "9:\n"
    "mov r0, lr\n"
    HIGH_TO_R4_R7
    "stm r0!, {r4, r5, r6, r7}\n"
    "add sp, #8\n"
    RESTORE_HIGH_REGISTERS
    "pop {r4, r5, r6, r7, pc}\n"
    QNN_ASM_END(qnn_mac4_m0));

static inline void mac4_window(uint32_t acc[4], const int8_t *x, const int8_t *w, const qnn_mac_t *m) {
    if (m->run && m->rows > 0) {
        qnn_mac4_m0(acc, x, w, m);
    }
}

// The pixels of qnn_mac_pixels over widened weights (qnn_start_pass), with the input widened too:
// for each pixel, the call first writes the window's x - in_zp as int32 into xw (4 instructions a
// tap), and then one LDM loads two taps' inputs, two more their eight weights, and eight
// multiply-adds follow, twice a step: 40 instructions for four taps where the int8 input took 52
// (a load, the zero point and the index a tap). The pixel's groups of four output channels follow
// in turn, each from its biases to acc (bias may be acc itself), about 35 instructions a group and
// 12 a further row, and then the output loop over the pass's table makes its outputs: one call for
// a run of pixels (a layer's row), where a call a pixel from C cost about 40 instructions a pixel
// more (5% of the first layer's, whose windows have 72 MACs).
// m->run >= 1, m->rows >= 1, p->groups >= 1, p->count >= 1, xw of m->rows * m->run words; x and
// wide (of the first group) at the first window's first row. p->out NULL: the sums alone, of one
// pixel.
typedef struct {
    const int32_t *bias;
    int32_t groups;
    int32_t *xw;
    int32_t count;
    size_t x_step;
    int8_t *out;
    size_t out_step;
    const int32_t *table;  // the pass's (qnn_outputs_t)
} pixels_m0_t;
_Static_assert(offsetof(pixels_m0_t, xw) == 8 && offsetof(pixels_m0_t, x_step) == 16
               && offsetof(pixels_m0_t, out_step) == 24 && offsetof(pixels_m0_t, table) == 28,
               "pixels_m0_t's layout");
void qnn_mac4w_pixels_m0(uint32_t *acc, const int8_t *x, const int32_t *wide, const qnn_mac_t *m,
                         const pixels_m0_t *p);
#define MAC4W_TAP(x) \
    "ldm r2!, {r4, r5, r6, r7}\n" \
    "muls r4, " x ", r4\n" "add r8, r4\n" "muls r5, " x ", r5\n" "add r9, r5\n" \
    "muls r6, " x ", r6\n" "add r10, r6\n" "muls r7, " x ", r7\n" "add r11, r7\n"
__asm__(
    QNN_ASM_BEGIN(qnn_mac4w_pixels_m0)
    "push {r4, r5, r6, r7, lr}\n"
    SAVE_HIGH_REGISTERS
    "sub sp, #60\n"               // [sp]: m; [sp, #4]: rows left; [sp, #8]: the sums' run, [sp, #16]
                                  // their rows; [sp, #12]: the group's widened weights; [sp, #20]:
                                  // the group's sums; [sp, #24]: x; [sp, #28]: the group's biases;
                                  // [sp, #32]: groups left; [sp, #36]: pixels left; [sp, #40]: wide;
                                  // [sp, #44]: acc; [sp, #48]: out; [sp, #52]: xw; [sp, #56]: the
                                  // bytes of a group's widened weights; p at [sp, #96]
    "str r3, [sp]\n"
    "str r1, [sp, #24]\n"
    "str r2, [sp, #40]\n"
    "str r0, [sp, #44]\n"
    "ldr r0, [r3, #68]\n"
    "lsls r0, r0, #4\n"
    "str r0, [sp, #56]\n"        // a group's widened weights: wide_step taps of 16 bytes
    "ldr r7, [sp, #96]\n"
    "ldr r0, [r7, #12]\n"
    "str r0, [sp, #36]\n"
    "ldr r0, [r7, #20]\n"
    "str r0, [sp, #48]\n"
    "ldr r0, [r7, #8]\n"
    "str r0, [sp, #52]\n"
    "ldr r4, [r3, #32]\n"         // rows
    "ldr r5, [r3, #28]\n"         // run
    "ldr r0, [r3, #24]\n"
    "cmp r0, r5\n"
    "bne 7f\n"
    "muls r0, r4, r0\n"           // whole window rows: their weights follow each other, and so do
    "str r0, [sp, #8]\n"          // their inputs in xw, one run for the sums
    "movs r0, #1\n"
    "str r0, [sp, #16]\n"
    "b 20f\n"
    "7:\n"
    "str r5, [sp, #8]\n"
    "str r4, [sp, #16]\n"
    "20:\n"                       // a pixel
    "ldr r3, [sp]\n"
    "ldr r0, [r3, #40]\n"
    "negs r0, r0\n"
    "mov r12, r0\n"               // -in_zp
    "ldr r4, [r3, #32]\n"         // rows
    "ldr r5, [r3, #28]\n"         // run
    "ldr r6, [r3, #20]\n"
    "subs r6, r6, r5\n"           // x_row - run: from a row's end to the next row
    "ldr r1, [sp, #24]\n"
    "ldr r2, [sp, #52]\n"
    "5:\n"
    "adds r1, r1, r5\n"
    "negs r3, r5\n"
    "lsrs r0, r5, #1\n"
    "bcc 6f\n"
    "ldrsb r0, [r1, r3]\n"        // an odd run's first tap alone
    "add r0, r12\n"
    "stm r2!, {r0}\n"
    "adds r3, #1\n"
    "beq 10f\n"
    "6:\n"
    "ldrsb r0, [r1, r3]\n"
    "adds r3, #1\n"
    "ldrsb r7, [r1, r3]\n"
    "add r0, r12\n"
    "add r7, r12\n"
    "stm r2!, {r0, r7}\n"
    "adds r3, #1\n"
    "bne 6b\n"
    "10:\n"
    "adds r1, r1, r6\n"
    "subs r4, #1\n"
    "bne 5b\n"
    "ldr r0, [sp, #40]\n"         // the pixel's groups, from the first
    "str r0, [sp, #12]\n"
    "ldr r0, [sp, #44]\n"
    "str r0, [sp, #20]\n"
    "ldr r3, [sp, #96]\n"
    "ldm r3!, {r0, r1}\n"
    "str r0, [sp, #28]\n"
    "str r1, [sp, #32]\n"
    "3:\n"
    "ldr r0, [sp, #28]\n"
    "ldm r0!, {r4, r5, r6, r7}\n"
    "str r0, [sp, #28]\n"
    R4_R7_TO_HIGH                 // the group's biases, its sums
    "ldr r0, [sp, #16]\n"
    "str r0, [sp, #4]\n"
    "ldr r1, [sp, #52]\n"
    "ldr r2, [sp, #12]\n"
    "2:\n"
    "ldr r3, [sp, #8]\n"          // run
    "lsls r0, r3, #2\n"
    "adds r0, r1, r0\n"
    "mov r12, r0\n"               // the row's end in xw
    "lsrs r0, r3, #1\n"
    "bcc 13f\n"
    "ldm r1!, {r0}\n"             // an odd run's first tap alone
    MAC4W_TAP("r0")
    "13:\n"
    "lsrs r0, r3, #2\n"
    "bcs 15f\n"                   // two taps more than a multiple of four: the loop's second half
    "cmp r1, r12\n"
    "beq 4f\n"
    "1:\n"
    "ldm r1!, {r0, r3}\n"
    MAC4W_TAP("r0")
    MAC4W_TAP("r3")
    "15:\n"
    "ldm r1!, {r0, r3}\n"
    MAC4W_TAP("r0")
    MAC4W_TAP("r3")
    "cmp r1, r12\n"
    "bne 1b\n"
    "4:\n"
    "ldr r0, [sp, #4]\n"
    "subs r0, #1\n"
    "beq 9f\n"
    "str r0, [sp, #4]\n"
    "ldr r3, [sp]\n"
    "ldr r4, [sp, #8]\n"
    "ldr r0, [r3, #24]\n"
    "subs r0, r0, r4\n"
    "lsls r0, r0, #4\n"
    "adds r2, r2, r0\n"           // the next row's weights: w_row - run taps of 16 bytes on
    "b 2b\n"
    "9:\n"
    "ldr r0, [sp, #20]\n"
    HIGH_TO_R4_R7
    "stm r0!, {r4, r5, r6, r7}\n"
    "str r0, [sp, #20]\n"
    "ldr r0, [sp, #56]\n"         // the next group's widened weights
    "ldr r1, [sp, #12]\n"
    "adds r1, r1, r0\n"
    "str r1, [sp, #12]\n"
    "ldr r0, [sp, #32]\n"
    "subs r0, #1\n"
    "str r0, [sp, #32]\n"
    "bne 3b\n"
    "ldr r0, [sp, #48]\n"         // the pixel's outputs
    "cmp r0, #0\n"
    "beq 30f\n"
    "ldr r3, [sp, #96]\n"
    "ldr r2, [r3, #28]\n"         // the table
    "ldr r3, [r3, #4]\n"
    "lsls r3, r3, #2\n"           // n: four a group
    "ldr r1, [sp, #44]\n"         // acc
    "bl qnn_outputs_table_body_m0\n"
    "ldr r3, [sp, #96]\n"
    "ldr r0, [sp, #48]\n"
    "ldr r1, [r3, #24]\n"
    "adds r0, r0, r1\n"
    "str r0, [sp, #48]\n"         // out_step on
    "ldr r0, [sp, #24]\n"
    "ldr r1, [r3, #16]\n"
    "adds r0, r0, r1\n"
    "str r0, [sp, #24]\n"         // x_step on
    "ldr r0, [sp, #36]\n"
    "subs r0, #1\n"
    "str r0, [sp, #36]\n"
    "beq 30f\n"
    "b 20b\n"                     // out of a conditional branch's reach
    "30:\n"
    "add sp, #60\n"
    RESTORE_HIGH_REGISTERS
    "pop {r4, r5, r6, r7, pc}\n"
    QNN_ASM_END(qnn_mac4w_pixels_m0));

#undef MAC4W_TAP

// The widened input's words, on the stack: a window of more taps goes a row's run of at most this
// many at a time, each call adding to acc.
#define WIDE_X_MAX 256

// mac4w_groups_m0 and mac4w_pixels_m0 are functions of their own, never inlined: the widened
// input's WIDE_X_MAX words stay out of the frames of qnn_mac_pixels' and qnn_mac_pixel's other
// paths, which call each other (conv2d without a scratch took 3.4 KB of stack on qemu-m0 with
// them inlined, 1.4 KB without).
__attribute__((noinline)) static void mac4w_groups_m0(uint32_t *acc, const int8_t *x, const int32_t *wide,
                                                       const qnn_mac_t *m, const int32_t *bias, int32_t groups) {
    int32_t xw[WIDE_X_MAX];
    pixels_m0_t p = {.bias = bias, .groups = groups, .xw = xw, .count = 1};
    if ((size_t)m->rows * m->run <= WIDE_X_MAX) {
        qnn_mac4w_pixels_m0(acc, x, wide, m, &p);
        return;
    }
    qnn_mac_t part = *m;
    part.rows = 1;
    for (int32_t r = 0; r < m->rows; r++) {
        for (size_t i = 0; i < m->run; i += part.run) {
            part.run = m->run - i < WIDE_X_MAX ? m->run - i : WIDE_X_MAX;
            qnn_mac4w_pixels_m0(acc, x + (size_t)r * m->x_row + i, wide + ((size_t)r * m->w_row + i) * 4, &part, &p);
            p.bias = (const int32_t *)acc;
        }
    }
}
#define MAC4W_GROUPS mac4w_groups_m0

// qnn_mac_pixels' pixels through qnn_mac4w_pixels_m0, every channel of the pass in whole groups.
__attribute__((noinline)) static void mac4w_pixels_m0(int8_t *out, size_t out_step, const int8_t *x, size_t x_step,
                                                       int32_t count, const qnn_mac_t *m) {
    uint32_t acc[QNN_OUTPUT_CHUNK];
    int32_t xw[WIDE_X_MAX];
    const pixels_m0_t p = {m->bias + m->c_begin, (m->c_end - m->c_begin) / 4, xw, count, x_step, out + m->c_begin,
                           out_step, m->requant->table};
    qnn_mac4w_pixels_m0(acc, x, m->wide, m, &p);
}

// depthwise's dw4_groups: `groups` groups of four adjacent channels, group g's at x + 4g and
// w + 4g, each tap `step` (out_c) bytes on in input and weights alike, every row and every group
// in one call, adding to acc. Thumb-1 has no immediate offset for a signed byte load: channel 0
// loads unsigned and sign-extends, the others load at offsets 1, 2 and 3 held in registers. 26
// instructions a tap (GCC 12: 39), about 35 a group and 12 a further row, where a call a group
// cost about 60.
// void qnn_dw4_groups_m0(uint32_t *acc, const int8_t *x, const int8_t *w, const qnn_mac_t *m,
//                        int32_t groups), m->run >= 1, m->rows >= 1, groups >= 1; x and w at the
// window's first row, of the first group's first channel.
void qnn_dw4_groups_m0(uint32_t *acc, const int8_t *x, const int8_t *w, const qnn_mac_t *m, int32_t groups);
__asm__(
    QNN_ASM_BEGIN(qnn_dw4_groups_m0)
    "push {r0, r1, r2, r4, r5, r6, r7, lr}\n"
    SAVE_HIGH_REGISTERS
    "sub sp, #24\n"               // [sp]: rows left; [sp, #4]: the span of a row's taps; [sp, #8]
                                  // and [sp, #12]: from a row's end to the next row's start in
                                  // input and weights; [sp, #16]: rows; [sp, #20]: -in_zp; acc
                                  // at [sp, #40], x at [sp, #44], w at [sp, #48], groups at [sp, #72]
    "ldr r4, [r3, #32]\n"
    "str r4, [sp, #16]\n"
    "ldr r4, [r3, #36]\n"         // out_c: the step from tap to tap
    "mov r12, r4\n"
    "ldr r5, [r3, #28]\n"
    "muls r5, r4, r5\n"
    "str r5, [sp, #4]\n"
    "ldr r4, [r3, #20]\n"
    "subs r4, r4, r5\n"
    "str r4, [sp, #8]\n"
    "ldr r4, [r3, #24]\n"
    "subs r4, r4, r5\n"
    "str r4, [sp, #12]\n"
    "ldr r7, [r3, #40]\n"
    "negs r7, r7\n"
    "str r7, [sp, #20]\n"
    "3:\n"
    "ldr r0, [sp, #40]\n"
    "ldm r0!, {r4, r5, r6, r7}\n"
    R4_R7_TO_HIGH                 // the group's sums so far
    "ldr r0, [sp, #16]\n"
    "str r0, [sp]\n"
    "ldr r1, [sp, #44]\n"
    "ldr r2, [sp, #48]\n"
    "ldr r7, [sp, #20]\n"
    "movs r3, #1\n"
    "movs r4, #2\n"
    "movs r5, #3\n"
    "2:\n"
    "ldr r0, [sp, #4]\n"
    "adds r0, r1, r0\n"
    "mov lr, r0\n"                // the end of the row in x
    "1:\n"
    "ldrb r0, [r1]\n"
    "sxtb r0, r0\n"
    "adds r0, r0, r7\n"
    "ldrb r6, [r2]\n"
    "sxtb r6, r6\n"
    "muls r6, r0, r6\n"
    "add r8, r6\n"
    "ldrsb r0, [r1, r3]\n"
    "adds r0, r0, r7\n"
    "ldrsb r6, [r2, r3]\n"
    "muls r6, r0, r6\n"
    "add r9, r6\n"
    "ldrsb r0, [r1, r4]\n"
    "adds r0, r0, r7\n"
    "ldrsb r6, [r2, r4]\n"
    "muls r6, r0, r6\n"
    "add r10, r6\n"
    "ldrsb r0, [r1, r5]\n"
    "adds r0, r0, r7\n"
    "ldrsb r6, [r2, r5]\n"
    "muls r6, r0, r6\n"
    "add r11, r6\n"
    "add r1, r12\n"
    "add r2, r12\n"
    "cmp r1, lr\n"
    "bne 1b\n"
    "ldr r0, [sp]\n"
    "subs r0, #1\n"
    "beq 9f\n"
    "str r0, [sp]\n"
    "ldr r0, [sp, #8]\n"
    "adds r1, r1, r0\n"
    "ldr r0, [sp, #12]\n"
    "adds r2, r2, r0\n"
    "b 2b\n"
    "9:\n"
    "ldr r0, [sp, #40]\n"
    HIGH_TO_R4_R7
    "stm r0!, {r4, r5, r6, r7}\n"
    "str r0, [sp, #40]\n"
    "ldr r0, [sp, #44]\n"
    "adds r0, #4\n"
    "str r0, [sp, #44]\n"
    "ldr r0, [sp, #48]\n"
    "adds r0, #4\n"
    "str r0, [sp, #48]\n"
    "ldr r0, [sp, #72]\n"
    "subs r0, #1\n"
    "str r0, [sp, #72]\n"
    "bne 3b\n"
    "add sp, #24\n"
    RESTORE_HIGH_REGISTERS
    "pop {r0, r1, r2, r4, r5, r6, r7, pc}\n"
    QNN_ASM_END(qnn_dw4_groups_m0));

#define DW4_GROUPS qnn_dw4_groups_m0
#else
// Every other core and the host harness: the plain loop, one channel after another as it compiles
// best without SIMD (interleaving the channels costs the Cortex-M3 a quarter more instructions).
static void mac4(uint32_t acc[4], const int8_t *x, const int8_t *w, size_t w_step, size_t n, int32_t zp) {
    for (int j = 0; j < 4; j++, w += w_step) {
        acc[j] += mac1(x, w, n, zp);
    }
}
#endif

#if !defined(__ARM_FEATURE_DSP) && !defined(__ARM_ARCH_6M__)
// dw4_window without SIMD: the plain loop over four adjacent channels, every row of the window.
// Sums in locals, not in acc[]: acc might alias the int8 buffers as far as C knows, which would
// keep every sum in memory.
static void dw4_window(uint32_t acc[4], const int8_t *x, const int8_t *w, const qnn_mac_t *m) {
    size_t step = (size_t)m->out_c;
    int32_t zp = m->in_zp;
    uint32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int32_t r = 0; r < m->rows; r++, x += m->x_row, w += m->w_row) {
        const int8_t *xt = x, *wt = w;
        for (size_t t = 0; t < m->run; t++, xt += step, wt += step) {
            a0 += (uint32_t)(((int32_t)xt[0] - zp) * (int32_t)wt[0]);
            a1 += (uint32_t)(((int32_t)xt[1] - zp) * (int32_t)wt[1]);
            a2 += (uint32_t)(((int32_t)xt[2] - zp) * (int32_t)wt[2]);
            a3 += (uint32_t)(((int32_t)xt[3] - zp) * (int32_t)wt[3]);
        }
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}
#endif

#if defined(DW4_GROUPS)
// The cores' assembly, where the window has taps.
static void dw4_groups(uint32_t *acc, const int8_t *x, const int8_t *w, const qnn_mac_t *m, int32_t groups) {
    if (m->run && m->rows > 0) {
        DW4_GROUPS(acc, x, w, m, groups);
    }
}
#else
// The groups of four channels a call each on the cores without an assembly loop.
static void dw4_groups(uint32_t *acc, const int8_t *x, const int8_t *w, const qnn_mac_t *m, int32_t groups) {
    for (int32_t g = 0; g < groups; g++, acc += 4, x += 4, w += 4) {
        dw4_window(acc, x, w, m);
    }
}
#endif

#if !defined(__ARM_ARCH_6M__)
// The window's rows in turn: the Cortex-M0's assembly runs them in one call.
static void mac4_window(uint32_t acc[4], const int8_t *x, const int8_t *w, const qnn_mac_t *m) {
    for (int32_t r = 0; r < m->rows; r++, x += m->x_row, w += m->w_row) {
        mac4(acc, x, w, m->filter_step, m->run, m->in_zp);
    }
}
#endif

#if QNN_SCRATCH_PER_WEIGHT == 4 && !defined(__ARM_ARCH_6M__)
// The Cortex-M0's widened loop in C: what the host harness builds (QNN_WIDEN_WEIGHTS) to check the
// widening's bookkeeping under the sanitizers.
static void mac4w_groups_in_c(uint32_t *acc, const int8_t *x, const int32_t *wide, const qnn_mac_t *m,
                              const int32_t *bias, int32_t groups) {
    for (int32_t g = 0; g < groups; g++, acc += 4, bias += 4, wide += m->wide_step * 4) {
        for (int j = 0; j < 4; j++) {
            acc[j] = (uint32_t)bias[j];
        }
        const int32_t *wr = wide;
        const int8_t *xr = x;
        for (int32_t r = 0; r < m->rows; r++, xr += m->x_row, wr += 4 * m->w_row) {
            const int32_t *wd = wr;
            for (size_t i = 0; i < m->run; i++, wd += 4) {
                int32_t d = (int32_t)xr[i] - m->in_zp;
                for (int j = 0; j < 4; j++) {
                    acc[j] += (uint32_t)(d * wd[j]);
                }
            }
        }
    }
}
#define MAC4W_GROUPS mac4w_groups_in_c
#endif

#if QNN_SCRATCH_PER_WEIGHT
// Every core's groups from their biases, the window's sums added where it has taps.
static void mac4w_groups(uint32_t *acc, const int8_t *x, const int32_t *wide, const qnn_mac_t *m,
                         const int32_t *bias, int32_t groups) {
    if (m->run && m->rows > 0) {
        MAC4W_GROUPS(acc, x, wide, m, bias, groups);
        return;
    }
    for (int32_t j = 0; j < 4 * groups; j++) {
        acc[j] = (uint32_t)bias[j];
    }
}
#endif

#if QNN_SCRATCH_PER_WEIGHT
// A pass over the pixels beyond the first costs each pixel its window and call overheads, about
// 128 instructions, and saves 5 a tap of each group of four channels it widens, less the copy's
// share (a few instructions a weight, over few pixels where the scratch is short): a pass of
// fewer channels times taps than this does not pay (measured on small's 4x4x64>128 pointwise).
#define WIDE_PASS_MIN 512

int32_t qnn_wide_channels(qnn_s8_t scratch, size_t wide_step, size_t run_unit, int32_t out_c, int32_t **wide) {
    size_t words;
    int32_t *words_at = qnn_scratch_words(scratch, &words);
    size_t groups = words / wide_step / QNN_SCRATCH_PER_WEIGHT;  // a group's words: wide_step of its taps'
    *wide = NULL;
#if defined(__ARM_FEATURE_DSP)
    if (run_unit % 4) {
        return out_c;
    }
#else
    (void)run_unit;
#endif
    if (out_c < 4 || groups == 0) {
        return out_c;
    }
    if (groups >= (size_t)out_c / 4) {
        *wide = words_at;
        return out_c;
    }
    if (groups * 4 * wide_step < WIDE_PASS_MIN) {
        return out_c;
    }
    *wide = words_at;
    return (int32_t)groups * 4;
}

// The whole groups of four channels in [c_begin, c_end), widened as qnn_start_pass says.
#if defined(__ARM_FEATURE_DSP)
// Channel row's tap i, 0 past the filter's taps (a gathered window's padding): no read outside w;
// the padding's inputs are in_zp, so the value itself adds nothing.
static int32_t tap(const int8_t *row, size_t i, size_t filter_step) {
    return i < filter_step ? row[i] : 0;
}
#endif

static void widen(int32_t *wide, const int8_t *w, size_t filter_step, size_t wide_step, int32_t c_begin,
                  int32_t c_end) {
    for (int32_t c = c_begin; c + 4 <= c_end; c += 4) {
        const int8_t *w0 = w + (size_t)c * filter_step, *w1 = w0 + filter_step, *w2 = w1 + filter_step;
        const int8_t *w3 = w2 + filter_step;
#if defined(__ARM_FEATURE_DSP)
        for (size_t i = 0; i < wide_step; i += 4) {
            for (size_t h = 0; h < 2; h++) {
                const int8_t *rows[4] = {w0, w1, w2, w3};
                for (int j = 0; j < 4; j++) {
                    wide[2 * j + h] = (int32_t)(((uint32_t)tap(rows[j], i + h + 2, filter_step) << 16)
                                                | (uint16_t)tap(rows[j], i + h, filter_step));
                }
            }
            wide += 8;
        }
#else
        (void)wide_step;  // filter_step: no core without the DSP extension pads
        for (size_t i = 0; i < filter_step; i++, wide += 4) {
            wide[0] = w0[i], wide[1] = w1[i], wide[2] = w2[i], wide[3] = w3[i];
        }
#endif
    }
}
#else
int32_t qnn_wide_channels(qnn_s8_t scratch, size_t wide_step, size_t run_unit, int32_t out_c, int32_t **wide) {
    (void)scratch, (void)wide_step, (void)run_unit;
    *wide = NULL;
    return out_c;
}
#endif

void qnn_outputs_prepare(qnn_outputs_t *o, const int32_t *multiplier, const int32_t *shift, int n, int32_t out_zp,
                         int32_t act_min, int32_t act_max) {
    o->multiplier = multiplier, o->shift = shift;
    o->bounds[0] = act_min - out_zp, o->bounds[1] = act_max - out_zp, o->bounds[2] = out_zp;
#if defined(__ARM_ARCH_6M__)
    int32_t *t = o->table;
    o->ready = 1;
    t[0] = o->bounds[0], t[1] = o->bounds[1], t[2] = o->bounds[2];
    for (int j = 0; j < n; j++, t += 3) {
        int32_t b = multiplier[j], e = -shift[j];
        o->ready &= e >= 1;
        t[3] = b >> 16, t[4] = e + 14, t[5] = b & 0xFFFF;
    }
#else
    (void)n;
#endif
}

void qnn_start_pass(qnn_mac_t *m, int32_t channels, int32_t *wide, const int8_t *w) {
#if defined(__ARM_ARCH_6M__)
    channels = channels < QNN_OUTPUT_CHUNK ? channels : QNN_OUTPUT_CHUNK;  // its table's
#endif
    m->c_end = m->out_c - m->c_begin < channels ? m->out_c : m->c_begin + channels;
    qnn_outputs_prepare(m->requant, m->multiplier + m->c_begin, m->shift + m->c_begin, m->c_end - m->c_begin,
                        m->out_zp, m->act_min, m->act_max);
#if QNN_SCRATCH_PER_WEIGHT
    if (wide) {
        widen(wide, w, m->filter_step, m->wide_step, m->c_begin, m->c_end);
    }
#else
    (void)wide, (void)w;
#endif
}

#if defined(__ARM_ARCH_6M__)
// Cortex-M0: the output loop in assembly, over a table (qnn_outputs_t's): one LDM loads an output's
// multiplier b, already split into its 16-bit halves bh and bl, and e + 14, e its right shift
// (>= 1); one index counts the outputs up to 0. About 22 instructions for a sum in (0, 2^16), 29
// for one in (-2^16, 0], 12 for a sum <= 0 under a ReLU's lower bound and about 50 for the others,
// where a loop over the multipliers and shifts as given took 30, 35 (on (-2^15, 0] only), 13 and
// 55, and GCC 12's loop in C about 70. Same arithmetic as qnn.h's qnn_output_s8 and requant.c's,
// all of it in 32 bits. A small sum's y is floor((floor(z / 2^(e + 14)) + 1) / 2): the rounding
// divide by 2^e (ties away from zero) of x = floor(z / 2^15), both floors in one shift by e + 14;
// for a in (0, 2^16), z = a * bh + floor(a * bl / 2^16) + 2^14, the floor of (a * b + 2^30) / 2^16
// taken in two steps, a * bl taken unsigned (below 2^32), a * bh < 2^31; for a in (-2^16, 0],
// x = -floor((n * b + 2^30 - 1) / 2^31) with n = -a, and y = -(the same rounding of
// z = n * bh + ceil(n * bl / 2^16) + 2^14 - 1), the ceil as floor((n * bl + 0xFFFF) / 2^16), below
// 2^32. Both z stay below 2^31. Larger sums take the four products of requant.c's high_mul, then
// the rounding divide as ceil(floor((x - (x < 0)) / 2^(e-1)) / 2), no x taking the + 1 out of int32
// (x <= 2^31 - 2: the multiplier is below 2^31).
// void qnn_outputs_table_m0(int8_t *out, const uint32_t *acc, const int32_t *table, int32_t n), n >= 1.
// qnn_outputs_table_body_m0, the loop itself, keeps no register but sp for its caller: the pixels'
// loop (qnn_mac4w_pixels_m0), which reloads its state from the stack, calls it without the 10
// instructions that save r4-r11 for C.
void qnn_outputs_table_m0(int8_t *out, const uint32_t *acc, const int32_t *table, int32_t n);
__asm__(
    QNN_ASM_BEGIN(qnn_outputs_table_m0)
    "push {r4, r5, r6, r7, lr}\n"
    SAVE_HIGH_REGISTERS
    "bl qnn_outputs_table_body_m0\n"
    RESTORE_HIGH_REGISTERS
    "pop {r4, r5, r6, r7, pc}\n"
    QNN_ASM_END(qnn_outputs_table_m0)
    QNN_ASM_BEGIN(qnn_outputs_table_body_m0)
    "push {lr}\n"
    "adds r4, r0, r3\n"          // the end of out
    "negs r7, r3\n"              // the index, up to 0
    "mov r5, r1\n"
    "ldm r2!, {r0, r1, r3}\n"
    "mov r9, r0\n"               // lo
    "mov r10, r1\n"              // hi
    "mov r11, r3\n"              // out_zp
    "mov r6, r2\n"
    "movs r0, #0\n"
    "mov r8, r0\n"               // 0, for the lower bound's sign
    "movs r0, #1\n"
    "lsls r0, r0, #14\n"
    "mov r12, r0\n"              // 2^14
    "lsls r0, r0, #2\n"
    "subs r0, #1\n"
    "mov lr, r0\n"               // 0xFFFF
    "1:\n"
    "ldm r5!, {r0}\n"            // the sum a
    "ldm r6!, {r1, r2, r3}\n"    // bh, e + 14, bl
    "cmp r0, #0\n"
    "ble 20f\n"
    "cmp r0, lr\n"
    "bhi 10f\n"
    "muls r3, r0, r3\n"
    "lsrs r3, r3, #16\n"
    "muls r0, r1, r0\n"
    "adds r0, r0, r3\n"
    "add r0, r12\n"
    "asrs r0, r2\n"
    "adds r0, #1\n"
    "asrs r0, r0, #1\n"
    "4:\n"
    "cmp r0, r9\n"
    "bge 5f\n"
    "6:\n"
    "mov r0, r9\n"
    "b 8f\n"
    "5:\n"
    "cmp r0, r10\n"
    "ble 8f\n"
    "mov r0, r10\n"
    "8:\n"
    "add r0, r11\n"
    "strb r0, [r4, r7]\n"
    "adds r7, #1\n"
    "bne 1b\n"
    "pop {pc}\n"
    "20:\n"
    "cmp r9, r8\n"
    "bge 6b\n"                   // a <= 0 under a lower bound >= 0: y = lo
    "negs r0, r0\n"              // n
    "cmp r0, lr\n"
    "bhi 11f\n"
    "muls r3, r0, r3\n"
    "add r3, lr\n"
    "lsrs r3, r3, #16\n"         // ceil(n * bl / 2^16)
    "muls r0, r1, r0\n"
    "adds r0, r0, r3\n"
    "add r0, r12\n"
    "subs r0, #1\n"
    "asrs r0, r2\n"
    "adds r0, #1\n"
    "asrs r0, r0, #1\n"
    "negs r0, r0\n"
    "b 4b\n"
    "11:\n"
    "negs r0, r0\n"              // a again
    "10:\n"
    "push {r2, r4}\n"
    // floor((a * b + 2^30) / 2^31) from the 16-bit halves (requant.c's high_mul)
    "asrs r2, r0, #16\n"         // ah
    "uxth r0, r0\n"              // al
    "movs r4, r2\n"
    "muls r4, r3, r4\n"          // hl = ah * bl
    "muls r2, r1, r2\n"          // hh = ah * bh
    "muls r1, r0, r1\n"          // lh = al * bh
    "muls r0, r3, r0\n"          // ll = al * bl
    "lsrs r0, r0, #16\n"
    "adds r1, r1, r0\n"
    "add r1, r12\n"              // low = lh + (ll >> 16) + 2^14
    "lsls r0, r4, #17\n"
    "lsrs r0, r0, #17\n"
    "adds r0, r0, r1\n"
    "lsrs r0, r0, #15\n"
    "asrs r4, r4, #15\n"
    "lsls r2, r2, #1\n"
    "adds r2, r2, r4\n"
    "adds r0, r0, r2\n"          // x = 2 hh + (hl >> 15) + (((hl & 0x7FFF) + low) >> 15)
    "pop {r2, r4}\n"
    "subs r2, #15\n"             // e - 1
    "lsrs r3, r0, #31\n"
    "subs r0, r0, r3\n"
    "asrs r0, r2\n"
    "adds r0, #1\n"
    "asrs r0, r0, #1\n"
    "b 4b\n"
    QNN_ASM_END(qnn_outputs_table_body_m0));
#elif defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__)
// Cortex-M3/M4/M7: the output loop in Thumb-2, about 18 instructions per output on the
// Cortex-M4 where GCC 12 spends about 40 around a call of qnn_requantize, and 8 where a ReLU's
// sum <= 0 needs none: one index i, counting up to 0, addresses the sums, multipliers, shifts and
// outputs from their ends. The rounding divide is the Cortex-M0's form for large sums,
// ceil(floor((x - (x < 0)) / 2^(e-1)) / 2), three instructions with shifted operands that no x
// takes out of int32 (x > INT32_MIN: b < 2^31). x = floor((a * b + 2^30) / 2^31) is SMMULR's floor((2a * b + 2^31) / 2^32) wherever 2a
// fits (the DSP extension), else from SMULL's 64-bit product. Two loops, which clamp apart: to an
// output's whole int8 range (every layer of tiny and small) with two SSATs (the first keeps x + zp
// within int32), or to bounds with conditional moves.
// void qnn_outputs_arm(int8_t *out, const uint32_t *acc, const int32_t *multiplier,
//                      const int32_t *shift, int32_t n, const int32_t bounds[3] /* lo, hi, out_zp */), n >= 1.
void qnn_outputs_arm(int8_t *out, const uint32_t *acc, const int32_t *multiplier, const int32_t *shift, int32_t n,
                     const int32_t *bounds);
void qnn_outputs_int8(int8_t *out, const uint32_t *acc, const int32_t *multiplier, const int32_t *shift, int32_t n,
                      const int32_t *bounds);
#define SMULL_HIGH_MUL "smull r11, r12, r8, r9\n" "adds r11, r11, #0x40000000\n" "adc r12, r12, #0\n" \
    "lsr r11, r11, #31\n" "orr r11, r11, r12, lsl #1\n"
#if defined(__ARM_FEATURE_DSP)
#define HIGH_MUL "adds r11, r8, r8\n" "bvs 10f\n" "smmulr r11, r11, r9\n" "5:\n"
#define HIGH_MUL_WIDE "10:\n" SMULL_HIGH_MUL "b 5b\n"
#else
#define HIGH_MUL SMULL_HIGH_MUL
#define HIGH_MUL_WIDE
#endif
#define CLAMP_TO_BOUNDS "cmp r11, r5\n" "it lt\n" "movlt r11, r5\n" "cmp r11, r6\n" "it gt\n" "movgt r11, r6\n" \
    "add r11, r11, r7\n"
#define CLAMP_TO_INT8 "ssat r11, #16, r11\n" "add r11, r11, r7\n" "ssat r11, #8, r11\n"
#define OUTPUT_LOOP(name, clamp) __asm__( \
    QNN_ASM_BEGIN(name) \
    "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n" \
    "ldr r8, [sp, #36]\n" \
    "adds r4, r0, r8\n"           /* the ends of out, acc, multiplier and shift */ \
    "add r1, r1, r8, lsl #2\n" \
    "add r2, r2, r8, lsl #2\n" \
    "add r3, r3, r8, lsl #2\n" \
    "rsb r0, r8, #0\n"            /* i */ \
    "ldr r5, [sp, #40]\n" \
    "ldm r5, {r5, r6, r7}\n"      /* lo, hi, out_zp */ \
    "add lr, r5, r7\n"            /* lo + out_zp: the output of a sum a ReLU zeroes */ \
    "1:\n" \
    "ldr r8, [r1, r0, lsl #2]\n"  /* the sum a */ \
    "cmp r8, #0\n" \
    "bgt 3f\n" \
    "cmp r5, #0\n" \
    "bge 6f\n"                    /* a <= 0 under a lower bound >= 0: y = lo */ \
    "3:\n" \
    "ldr r9, [r2, r0, lsl #2]\n"  /* the multiplier b */ \
    "ldr r10, [r3, r0, lsl #2]\n" \
    "mvns r10, r10\n"             /* e - 1, e the right shift */ \
    "bmi 7f\n" \
    HIGH_MUL                      /* x */ \
    "sub r11, r11, r11, lsr #31\n" \
    "asr r11, r11, r10\n" \
    "sub r11, r11, r11, asr #1\n" /* ceil(floor((x - (x < 0)) / 2^(e-1)) / 2) */ \
    "4:\n" \
    clamp \
    "strb r11, [r4, r0]\n" \
    "adds r0, r0, #1\n" \
    "bne 1b\n" \
    "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n" \
    "6:\n" \
    "strb lr, [r4, r0]\n" \
    "adds r0, r0, #1\n" \
    "bne 1b\n" \
    "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n" \
    "7:\n" \
    "push {r0, r1, r2, r3, lr}\n" /* lr also keeps the stack 8-byte aligned for the call */ \
    "mov r0, r8\n" \
    "mov r1, r9\n" \
    "mvn r2, r10\n" \
    "bl qnn_requantize\n"         /* r0 = a, r1 = b, r2 = shift >= 0 */ \
    "mov r11, r0\n" \
    "pop {r0, r1, r2, r3, lr}\n" \
    "b 4b\n" \
    HIGH_MUL_WIDE \
    QNN_ASM_END(name))
OUTPUT_LOOP(qnn_outputs_arm, CLAMP_TO_BOUNDS);
OUTPUT_LOOP(qnn_outputs_int8, CLAMP_TO_INT8);
#endif

#if !defined(__ARM_ARCH_7M__) && !defined(__ARM_ARCH_7EM__)
// The output loop in C for bounds = {act_min - out_zp, act_max - out_zp, out_zp}: the host
// harness's, and the Cortex-M0's where a shift is no right shift (rare).
__attribute__((noinline)) static void outputs_in_c(int8_t *out, const uint32_t *acc, const int32_t *multiplier,
                                                    const int32_t *shift, int n, const int32_t bounds[3]) {
    for (int j = 0; j < n; j++) {
        out[j] = qnn_output_s8((int32_t)acc[j], multiplier[j], shift[j], bounds[2], bounds[0] + bounds[2],
                               bounds[1] + bounds[2]);
    }
}
#endif

#if defined(__ARM_ARCH_6M__)
static inline void prepared_outputs(int8_t *out, const uint32_t *acc, int n, const qnn_outputs_t *o) {
    if (o->ready) {
        qnn_outputs_table_m0(out, acc, o->table, n);
    } else {
        outputs_in_c(out, acc, o->multiplier, o->shift, n, o->bounds);
    }
}

void qnn_outputs(int8_t *out, const uint32_t *acc, int n, const qnn_outputs_t *o) {
    prepared_outputs(out, acc, n, o);
}

// out[j] for j < n: output channel c + j's requantized sum. A pass has at most one chunk of
// channels (qnn_start_pass): c is its first.
static void write_outputs(int8_t *out, const uint32_t *acc, int32_t c, int n, const qnn_mac_t *m) {
    (void)c;
    prepared_outputs(out, acc, n, m->requant);
}
#else
// The output loop of each core.
static void outputs(int8_t *out, const uint32_t *acc, const int32_t *multiplier, const int32_t *shift, int n,
                    const int32_t bounds[3]) {
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__)
    int whole = bounds[0] == -128 - bounds[2] && bounds[1] == 127 - bounds[2];
    (whole ? qnn_outputs_int8 : qnn_outputs_arm)(out, acc, multiplier, shift, n, bounds);
#else
    outputs_in_c(out, acc, multiplier, shift, n, bounds);
#endif
}

static inline void prepared_outputs(int8_t *out, const uint32_t *acc, int n, const qnn_outputs_t *o) {
    outputs(out, acc, o->multiplier, o->shift, n, o->bounds);
}

void qnn_outputs(int8_t *out, const uint32_t *acc, int n, const qnn_outputs_t *o) {
    prepared_outputs(out, acc, n, o);
}

// out[j] for j < n: output channel c + j's requantized sum.
static void write_outputs(int8_t *out, const uint32_t *acc, int32_t c, int n, const qnn_mac_t *m) {
    const qnn_outputs_t *o = m->requant;
    outputs(out, acc, o->multiplier + (c - m->c_begin), o->shift + (c - m->c_begin), n, o->bounds);
}
#endif

// The sums of up to QNN_OUTPUT_CHUNK output channels are requantized in one write_outputs call: an
// assembly output loop's fixed cost, paid per group of four, outweighed its gain on ReLU layers,
// whose many sums <= 0 cost little either way.

// The taps of a run for the channels left over from the widened groups: on the DSP cores a run
// longer than the filter is a gathered window padded for those groups (conv2d.c), whose padding
// adds nothing and lies past the last channel's weights.
static inline size_t unpadded_run(const qnn_mac_t *m) {
#if defined(__ARM_FEATURE_DSP)
    return m->run < m->filter_step ? m->run : m->filter_step;
#else
    return m->run;
#endif
}

void qnn_mac_pixel(int8_t *out, const int8_t *x, const qnn_mac_t *m) {
    uint32_t acc[QNN_OUTPUT_CHUNK];
    for (int32_t first = m->c_begin; first < m->c_end; first += QNN_OUTPUT_CHUNK) {
        int32_t end = m->c_end - first < QNN_OUTPUT_CHUNK ? m->c_end : first + QNN_OUTPUT_CHUNK, c = first;
#if QNN_SCRATCH_PER_WEIGHT
        if (m->wide && end - c >= 4) {
            int32_t groups = (end - c) / 4;
            mac4w_groups(acc, x, m->wide + (size_t)(c - m->c_begin) / 4 * m->wide_step * QNN_SCRATCH_PER_WEIGHT, m,
                         m->bias + c, groups);
            c += 4 * groups;
        }
#endif
        const int8_t *w = m->w + (size_t)c * m->filter_step;
        for (; c + 4 <= end; c += 4, w += 4 * m->filter_step) {
            uint32_t *a = acc + (c - first);
            for (int j = 0; j < 4; j++) {
                a[j] = (uint32_t)m->bias[c + j];
            }
            mac4_window(a, x, w, m);
        }
        for (; c < end; c++, w += m->filter_step) {
            uint32_t sum = (uint32_t)m->bias[c];
            const int8_t *xr = x, *wr = w;
            for (int32_t r = 0; r < m->rows; r++, xr += m->x_row, wr += m->w_row) {
                sum += mac1(xr, wr, unpadded_run(m), m->in_zp);
            }
            acc[c - first] = sum;
        }
        write_outputs(out + first, acc, first, (int)(end - first), m);
    }
}

void qnn_mac_pixels(int8_t *out, size_t out_step, const int8_t *x, size_t x_step, int32_t count, const qnn_mac_t *m) {
#if QNN_SCRATCH_PER_WEIGHT
    int32_t n = m->c_end - m->c_begin;
    if (m->wide && n % 4 == 0 && n <= QNN_OUTPUT_CHUNK && m->run && m->rows > 0) {
        // Every channel in a widened group and one output chunk: qnn_mac_pixel's general case,
        // about 100 instructions a pixel on the Cortex-M0, is left out.
#if defined(__ARM_ARCH_6M__)
        // A window of more taps than the widened input's words goes through qnn_mac_pixel: its
        // taps outweigh a pixel's calls; so does a pass without its table (a shift >= 0, rare).
        if ((size_t)m->rows * m->run <= WIDE_X_MAX && m->requant->ready) {
            mac4w_pixels_m0(out, out_step, x, x_step, count, m);
            return;
        }
#else
        uint32_t acc[QNN_OUTPUT_CHUNK];
        const int32_t *bias = m->bias + m->c_begin;
        for (out += m->c_begin; count > 0; count--, out += out_step, x += x_step) {
            MAC4W_GROUPS(acc, x, m->wide, m, bias, n / 4);
            prepared_outputs(out, acc, n, m->requant);
        }
        return;
#endif
    }
#endif
    for (; count > 0; count--, out += out_step, x += x_step) {
        qnn_mac_pixel(out, x, m);
    }
}

void qnn_mac_depthwise_sums(uint32_t *acc, const int8_t *x, const qnn_mac_t *m, int32_t c_begin, int32_t c_end) {
    size_t step = (size_t)m->out_c;
    int32_t groups = (c_end - c_begin) / 4, c = c_begin + 4 * groups;
    if (groups) {
        dw4_groups(acc, x + c_begin, m->w + c_begin, m, groups);
    }
    for (; c < c_end; c++) {
        const int8_t *xr = x + c, *wr = m->w + c;
        for (int32_t r = 0; r < m->rows; r++, xr += m->x_row, wr += m->w_row) {
            acc[c - c_begin] += dw1(xr, wr, m->run, step, m->in_zp);
        }
    }
}

void qnn_mac_depthwise_pixel(int8_t *out, const int8_t *x, const qnn_mac_t *m) {
    uint32_t acc[QNN_OUTPUT_CHUNK];
    for (int32_t first = m->c_begin; first < m->c_end; first += QNN_OUTPUT_CHUNK) {
        int32_t end = m->c_end - first < QNN_OUTPUT_CHUNK ? m->c_end : first + QNN_OUTPUT_CHUNK;
        for (int32_t c = first; c < end; c++) {
            acc[c - first] = (uint32_t)m->bias[c];
        }
        qnn_mac_depthwise_sums(acc, x, m, first, end);
        write_outputs(out + first, acc, first, (int)(end - first), m);
    }
}
