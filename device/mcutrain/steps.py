"""A layer's base steps: the per-channel fixed-point factors of its weight and bias updates, derived
once from the trainer's settings (mcutrain.fixed) and held in 6 bytes a channel; a step only
multiplies them by the schedule's Q15 factor. Shared by the ZO and the FQT trainer."""

from array import array

from mcutrain import fixed

Q_BITS = 12  # standardized gradients in Q12: |ghat| <= sqrt(n) keeps them far from int32's end


def base_steps(channels):
    """Zeroed base steps of a layer, (multiplier >> 17, shift) per channel for its weights, then
    for its bias: int16 and int8 hold them (multiplier < 2^31, shift in [2, 62]) in 6 bytes a
    channel, which a step widens to this step's int32 steps."""
    return array("h", bytes(2 * channels)), array("b", bytes(channels)), array("h", bytes(2 * channels)), \
        array("b", bytes(channels))


def base_bytes(base):
    return 6 * len(base[0])


def set_base(high, shifts, c, factor):
    """Stores a base step as (multiplier >> 17, shift): the high part times a Q15 schedule factor
    stays below 2^29, a small int on every board, and the shift drops by 2 (17 - 15)."""
    multiplier, shift = fixed.to_step(factor)
    if shift < 2:
        raise ValueError("learning rate too large: the step exceeds 2^29 per unit gradient")
    high[c] = multiplier >> 17
    shifts[c] = shift


def set_standardized(base, c, lr, s_w, s_in):
    """Base steps of channel c for a gradient standardized per channel in Q_BITS: in the real
    domain w -= lr * (g - mean) / std, which is lr / s_w per int8 weight unit and lr / (s_in s_w)
    per int32 bias unit (s_b = s_in s_w)."""
    weight = fixed.div(lr, s_w)
    bias = fixed.div(weight, s_in)
    set_base(base[0], base[1], c, (weight[0], weight[1] - Q_BITS))
    set_base(base[2], base[3], c, (bias[0], bias[1] - Q_BITS))
