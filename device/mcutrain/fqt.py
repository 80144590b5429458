"""Fully quantized back-propagation (FQT) of the last layers (docs/algorithms.md, section 2).

The error starts as the loss's int8 output error (softmax - one_hot at scale 1/127) and walks
down from the last layer to the lowest trainable one, through every layer between: a weighted
layer masks it where its output was clamped (straight-through ReLU), turns it into int32
weight and bias gradients if it trains, and passes W^T E down if layers below need it; a pool
passes its input gradient down; a residual add passes its error to both inputs, and the link
that reads the block's input adds the skip's to the branch's (AddLink.merge). Each int32 input
gradient becomes the next int8 error at a dynamic power-of-two scale (quantize_s8, stochastic
rounding).

Updates use gradient standardization per output channel, w -= lr * (g - mean) / std in the
real domain: scale-free, so the error's power-of-two exponent and the constant scales of the
chain never enter a step. With the channel's weight scale s_w the step in int8 weight units is
lr / (s_w * 2^Q_BITS) on the standardized Q_BITS gradient (mcutrain.steps). Dynamic partial
updates train only the top-k output channels by error norm, k from the step's loss relative to
the largest seen. They exist to cut the backward pass's work, so a layer whose whole weight
gradient costs at most that fraction of the largest trainable layer's (a 10-class classifier
below a convolution) is updated in full: one row of ten per step starves it (docs/algorithms.md).
"""

from array import array

from mcutrain import fixed, groups, steps
from mcutrain.backend import kernels
from mcutrain.buffers import int32_zeros
from mcutrain.model import elements

ONE_Q15 = 1 << 15
_PREFIX = {"fully_connected": "fc", "conv2d": "conv2d", "depthwise_conv2d": "depthwise"}


def chain(model, layers):
    """The layers the error walks through: from the lowest trainable one to the last."""
    if not layers:
        raise ValueError("FQT needs at least one trainable layer")
    return model.layers[min(layer.index for layer in layers):]


class FQT:
    """The backward chain of a trainer's model: one link per layer from the last down to the
    lowest trainable one. Per-channel state is allocated here, once; the gradients and errors
    are planned in the model's arena (plan, bind)."""

    def __init__(self, trainer, layers):
        self.trainer = trainer
        model = trainer.model
        self.model, self.batch = model, trainer.batch
        self.owned = []  # every buffer allocated outside the arena, for memory()
        trainable = [layer.index for layer in layers]
        lowest = min(trainable)
        links = chain(model, layers)[::-1]
        for i, layer in enumerate(links):
            if i and layer.output != links[i - 1].inputs[0]:
                raise ValueError("FQT needs a chain: layer %d does not feed layer %d" % (layer.index, links[i - 1].index))
        self.seeds_used = 0
        self.links = []
        for layer in links:
            below = layer.index > lowest
            if layer.op == "add":
                self.links.append(AddLink(self, layer))
            elif layer.weight is None:
                self.links.append(PoolLink(self, layer))
            else:
                self.links.append(WeightedLink(self, layer, layer.index in trainable, below))
        for i, link in enumerate(self.links):
            if isinstance(link, AddLink):
                link.find_join(self.links[i + 1:])
        self.seeds = self.int32(self.seeds_used)
        self._set_shares([link for link in self.links if getattr(link, "trainable", False)])
        self.exponent = 0  # this step's lowest error is E * 2^exponent times the chain's constant scales
        self.loss_max = 0
        self.configure()

    def _set_shares(self, trainable):
        """Each trainable link's weight-gradient MACs per sample as a Q15 share of the largest
        one's, in small ints (the costs are cut to 15 bits first)."""
        costs = [len(link.layer.weight) * (link.out_count // (link.channels * self.batch)) for link in trainable]
        top, shift = max(costs), 0
        while top >> shift >= ONE_Q15:
            shift += 1
        for link, cost in zip(trainable, costs):
            link.share = ((cost >> shift) << 15) // max(1, top >> shift)

    def plan(self, plan, lean):
        """Adds the backward walk to `plan`: link by link, each reading the activations of its
        layer, with its error passed to the next link and its gradients in one int32 scratch,
        since weight gradients, input gradients and the widened error are never needed at the
        same time. Lean, a layer's weight gradient is made a group of output channels at a time."""
        self.scratch_count = 0
        for link in self.links:
            self.scratch_count = max(self.scratch_count, link.scratch_count(lean))
        since = plan.time
        previous = previous_at = None
        for link in self.links:
            at = link.planned_at = plan.time
            plan.read(link.reads)
            if previous is not None:
                previous.buffers["error_in"] = plan.bytes(previous.error_in_size, previous_at)
            if link.join is not None:  # the add's error waits here for the branch's
                link.join.buffers["skip"] = plan.bytes(link.join.count, link.join.planned_at)
            for name, (n, int32) in link.local.items():
                link.buffers[name] = plan.int32(n, at) if int32 else plan.bytes(n, at)
            previous, previous_at = link, at
        self.scratch_buffer = plan.int32(self.scratch_count, since)

    def bind(self, model):
        """Takes the planned buffers from the placed arena."""
        self.scratch = model.view(self.scratch_buffer)
        error = self.trainer.loss.error
        for link in self.links:
            link.error = error
            for name, buf in link.buffers.items():
                setattr(link, name, model.view(buf))
            link.bind(self)
            error = link.error_in

    def size(self, t):
        return self.batch * elements(self.model.description.shape(t))

    def int32(self, n):
        buf = int32_zeros(n)
        self.owned.append(buf)
        return buf

    def view(self, n):
        """The first n int32 elements of the scratch."""
        return self.scratch[:n]

    def take_seeds(self, n):
        """Indices of n seeds in each step's draw."""
        self.seeds_used += n
        return self.seeds_used - n

    def configure(self):
        """Fixed-point steps and partial-update fractions from the trainer's float settings."""
        t = self.trainer
        if not 0 < t.lmin <= t.lmax <= 1:
            raise ValueError("need 0 < lmin <= lmax <= 1, got lmin=%r, lmax=%r" % (t.lmin, t.lmax))
        self.lmin = fixed.to_int(fixed.from_float(t.lmin), 15)
        self.lmax = fixed.to_int(fixed.from_float(t.lmax), 15)
        lr = fixed.from_float(t.lr)
        for link in reversed(self.links):  # from the bottom: an add takes its branch's scales
            link.configure(lr, 1 if t.stochastic else 0)
            if self.lmin < ONE_Q15 and getattr(link, "trainable", False) and link.rankings is None:
                link.rank_channels(self)

    def fraction(self, loss):
        """lmin + |e| / e_max * (lmax - lmin) in Q15, in small ints: e_max is cut to 15 bits
        (and e with it) so that the products stay below 2^30."""
        if self.lmin == self.lmax:
            return self.lmin
        if loss < 0:
            loss = -loss
        if loss > self.loss_max:
            self.loss_max = loss
        top, shift = self.loss_max, 0
        while top >> shift >= ONE_Q15:
            shift += 1
        ratio = ((loss >> shift) << 15) // (top >> shift) if top else 0
        return self.lmin + ((ratio * (self.lmax - self.lmin)) >> 15)

    def step(self, loss, factor):
        """Back-propagates the error the loss left in Loss.error and updates the trainable
        layers; loss is the step's Q16 loss, factor the schedule's Q15 factor."""
        self.trainer.model.stage(self.stage)
        kernels.seeds(self.seeds, self.trainer.stream)
        fraction = self.fraction(loss)
        self.exponent = 0
        for link in self.links:
            link.run(self, fraction, factor)

    def memory(self):
        total = 0
        for buf in self.owned:
            total += len(buf) * (4 if isinstance(buf, array) else 1)
        for link in self.links:
            total += link.memory()
        return total


class PoolLink:
    """max / avg / global-avg pooling: the input gradient, requantized to the next int8 error.
    Max pooling over windows that do not overlap routes each error element to one input, so its
    input gradient is the int8 error itself (every error is in [-127, 127]), which
    quantize_s8 would leave as it is: it goes straight into the next error, and the int32
    gradient, as large as the pool's input, is not planned."""

    def __init__(self, fqt, layer):
        self.layer = layer
        self.kernel = getattr(kernels, layer.op + "_input_grad")
        self.params = array("i", layer.params[:4 if layer.op == "global_avg_pool" else 12])
        self.count = fqt.size(layer.inputs[0])
        self.error_in_size = self.count
        p = self.params
        self.routes = layer.op == "max_pool" and p[8] >= p[6] and p[9] >= p[7]  # strides >= kernel
        self.reads = [layer.inputs[0]] if layer.op == "max_pool" else []
        self.local, self.buffers = {}, {}
        self.join = None
        self.quantize_params = array("i", (self.count, 1, 0))
        # Taken on either path, so that the seeds of the links below are the same on both.
        self.seed_at = fqt.take_seeds(1)

    def scratch_count(self, lean):
        """The int32 scratch elements this link needs."""
        return 0 if self.routes else self.count

    def bind(self, fqt):
        self.gx = self.error_in if self.routes else fqt.view(self.count)

    def configure(self, lr, stochastic):
        self.quantize_params[1] = stochastic

    def run(self, fqt, fraction, factor):
        if self.layer.op == "max_pool":
            self.kernel(self.gx, fqt.model.acts[self.layer.inputs[0]], self.error, self.params)
        else:
            self.kernel(self.gx, self.error, self.params)
        if not self.routes:
            self.quantize_params[2] = fqt.seeds[self.seed_at]
            fqt.exponent += kernels.quantize_s8(self.error_in, self.gx, self.quantize_params)

    def memory(self):
        return 4 * (len(self.params) + len(self.quantize_params))


STEP_BUFFERS = ("weight_multipliers", "weight_shifts", "bias_multipliers", "bias_shifts")
HALF_Q31 = 1 << 30  # 1/2 as a requantization multiplier (shift 0)
_LEFT_SHIFT = 20  # the add kernel's common finer scale


class AddLink:
    """A residual add y = a + b (real values): its output's error is the error of both inputs.
    The branch input's goes on down the chain; a copy waits for the link that reads the block's
    input (the skip tensor), which adds it to the error the branch passed down (merge)."""

    def __init__(self, fqt, layer):
        self.layer = layer
        self.count = fqt.size(layer.output)
        self.error_in_size = self.count
        self.reads = [layer.output]
        record = layer.record
        self.mask_params = array("i", (self.count, record.act_min, record.act_max))
        self.copy_params = array("i", (0, 0, self.count))
        # add's params: [count, a_zp, a_mult, a_shift, b_zp, b_mult, b_shift, left_shift, out_zp,
        # out_mult, out_shift, act_min, act_max]; the output takes the sum back from 2^20 units.
        self.join_params = array("i", (self.count, 0, 0, 0, 0, 0, 0, _LEFT_SHIFT, 0, HALF_Q31, 1 - _LEFT_SHIFT,
                                       -127, 127))
        self.local, self.buffers = {}, {}
        self.join = None
        self.branch = ()  # the weighted links from the add down to the one that reads the skip
        self.skip = None
        self.exponent_at = 0

    def find_join(self, lower):
        """Hands the skip's error to the link among `lower` that reads the skip tensor and passes
        an error further down; none does where the chain ends inside the block."""
        skip = self.layer.inputs[1]
        branch = []
        for link in lower:
            if not isinstance(link, WeightedLink):
                raise ValueError("FQT through the residual add %d: its block must hold weighted layers alone"
                                 % self.layer.index)
            branch.append(link)
            if link.layer.inputs[0] == skip:
                if link.below:
                    link.join = self
                    self.branch = branch
                return

    def scratch_count(self, lean):
        return 0

    def bind(self, fqt):
        pass

    def configure(self, lr, stochastic):
        """The branch's constant scale: the input gradients' largest weight scales, multiplied,
        and its inverse, each as a Q31 multiplier and an exponent."""
        if not self.branch:
            return
        product = (1, 0)
        for link in self.branch:
            product = fixed.mul(product, link.top_scale)
        self.ratio = _q31(product)
        self.inverse = _q31(fixed.div((1, 0), product))

    def run(self, fqt, fraction, factor):
        kernels.clamp_mask(self.error, fqt.model.acts[self.layer.output], self.mask_params)
        kernels.copy(self.error_in, self.error, self.copy_params)
        if self.skip is not None:
            kernels.copy(self.skip, self.error, self.copy_params)
            self.exponent_at = fqt.exponent

    def merge(self, fqt, error):
        """error (the branch's, at the block's input) becomes the sum of it and the skip's, each
        rescaled to half the larger one's scale, so the sum stays within int8. The branch's scale
        is the skip's times r = ratio * 2^(the quantizations' exponents since the add)."""
        branch = fqt.exponent - self.exponent_at
        p = self.join_params
        if self.ratio[1] + branch >= 1:  # r >= 1: the skip's error shrinks by 1 / (2 r)
            p[2] = HALF_Q31
            p[3] = 0
            _set_requant(p, 5, self.inverse[0], self.inverse[1] - branch - 1)
            fqt.exponent += 1
        else:  # r < 1: the branch's shrinks by r / 2
            _set_requant(p, 2, self.ratio[0], self.ratio[1] + branch - 1)
            p[5] = HALF_Q31
            p[6] = 0
            fqt.exponent = self.exponent_at + 1
        kernels.add(error, error, self.skip, p)

    def memory(self):
        return 4 * (len(self.mask_params) + len(self.copy_params) + len(self.join_params))


def _q31(a):
    """(M, e) with a = M * 2^(e - 31) and M in [2^30, 2^31), for a positive fixed-point a."""
    m, e = fixed.normalise(a[0], a[1])
    while m < HALF_Q31:
        m <<= 1
        e -= 1
    return m, e + 31


def _set_requant(params, at, multiplier, shift):
    """A requantization at params[at:at + 2]; one below its range (2^-31) passes nothing."""
    if shift < -31:
        multiplier = shift = 0
    params[at] = multiplier
    params[at + 1] = shift


class WeightedLink:
    """fully_connected / conv2d / depthwise_conv2d: mask, then the input gradient if layers
    below need it, then (if trainable) the standardized, partial weight and bias update."""

    def __init__(self, fqt, layer, trainable, below):
        self.layer, self.trainable, self.below = layer, trainable, below
        self.description = fqt.model.description
        prefix = _PREFIX[layer.op]
        channels = layer.record.shape[2]
        self.channels = channels
        self.out_count = out_count = fqt.size(layer.output)
        self.in_count = in_count = fqt.size(layer.inputs[0])
        record = layer.record
        self.mask_params = array("i", (out_count, record.act_min, record.act_max))
        self.params = [self.mask_params]
        self.reads = [layer.output, layer.inputs[0]] if trainable else [layer.output]
        self.local, self.buffers = {}, {}
        self.join = None  # the residual add whose skip error this link's input error takes in
        self.error_in = None
        self.error_in_size = in_count if below else 0
        if below:
            # W^T E needs E times each output channel's weight scale: the int8 error is widened
            # (bias_grad over one row copies it into int32) and requantized by s_w[c] / max s_w.
            self.widen_params = array("i", (1, out_count))
            self.local["scaled"] = (out_count, False)
            self.ratio = (fqt.int32(channels), fqt.int32(channels))
            self.requant_params = array("i", (out_count, channels, 0, -127, 127))
            self.input_grad = getattr(kernels, prefix + "_input_grad")
            self.input_params = array("i", layer.params[:3 if prefix == "fc" else 13])
            self.quantize_params = array("i", (in_count, 1, 0))
            self.seed_at = fqt.take_seeds(1)
            self.params += [self.widen_params, self.requant_params, self.input_params, self.quantize_params]
        if trainable:
            self._init_update(fqt, prefix, out_count)

    def scratch_count(self, lean):
        """The int32 scratch elements this link needs: its weight gradient, its widened error and
        its input gradient, one at a time."""
        return max(self.plan_gradient(lean), self.out_count if self.below else 0, self.error_in_size)

    def plan_gradient(self, lean):
        """The int32 elements of weight gradient this link holds at once (mcutrain.groups)."""
        if not self.trainable:
            return 0
        self.group = groups.group_size(self.channels, self.inner, lean, self.prefix == "depthwise")
        return groups.gradient_count(self.layer.weight, self.channels, self.inner, self.group)

    def bind(self, fqt):
        if self.below:
            self.wide = fqt.view(self.out_count)
            self.gx = fqt.view(self.in_count)
        if self.trainable:
            self._bind_groups(fqt)

    def _bind_groups(self, fqt):
        """Per group of output channels (mcutrain.groups): its gradient and parameter blocks, the
        standardization's among them."""
        self.groups = []
        for first, n, gw, grad_params, weight, multipliers, shifts, update_params in groups.split(
                fqt.view(groups.gradient_count(self.layer.weight, self.channels, self.inner, self.group)),
                self.layer.weight, self.weight_multipliers, self.weight_shifts,
                self.weight_grad_params, self.weight_params, self.channels, self.inner, self.group):
            std_params = self.weight_std_params
            if n < self.channels:
                std_params = array("i", (n * self.inner, n, self.inner, steps.Q_BITS))
                self.params += [grad_params, std_params, update_params]
            self.groups.append((gw, grad_params, std_params, weight, multipliers, shifts, update_params))

    def _init_update(self, fqt, prefix, out_count):
        layer, channels = self.layer, self.channels
        if channels >= 1 << 14:  # k = fraction * channels must stay a small int
            raise ValueError("partial updates take at most 16383 channels")
        count = len(layer.weight)
        # Depthwise weights are [k_h, k_w, c]: the channel is the innermost index.
        inner = 1 if prefix == "depthwise" else count // channels
        self.prefix, self.inner, self.group = prefix, inner, channels
        self.local["gb"] = (channels, True)
        self.weight_grad = getattr(kernels, prefix + "_weight_grad")
        self.weight_grad_params = array("i", layer.params[:4 if prefix == "fc" else 14])
        self.bias_grad_params = array("i", (out_count // channels, channels))
        self.weight_std_params = array("i", (count, channels, inner, steps.Q_BITS))
        # One group for the bias: one element per channel has no spread of its own.
        self.bias_std_params = array("i", (channels, 1, channels, steps.Q_BITS))
        self.weight_params = array("i", (count, channels, inner, 1, 0))
        self.bias_params = array("i", (channels, channels, 1, 1, 0))
        # base: (multiplier >> 17, shift) per channel for weights then bias; this step's steps
        # are made from it at the update (_select), in the arena.
        self.base = steps.base_steps(channels)
        for name in STEP_BUFFERS:
            self.local[name] = (channels, True)
        # Partial updates: channel scores, and the ranking (rank_channels) where they may happen.
        self.local["scores"] = (channels, True)
        self.rankings = None
        self.norm_params = array("i", (out_count, channels, 1, 0))
        self.topk_params = array("i", (channels, channels))
        self.update_seed_at = fqt.take_seeds(2)
        self.params += [self.weight_grad_params, self.bias_grad_params, self.weight_std_params,
                        self.bias_std_params, self.weight_params, self.bias_params, self.norm_params,
                        self.topk_params]

    def rank_channels(self, fqt):
        """The top-k ranking of partial updates and an exact-length view of it per k: made only
        where lmin < 1, since the views cost a word or four per channel."""
        ranking = memoryview(fqt.int32(self.channels))
        self.rankings = [ranking[:k] for k in range(1, self.channels + 1)]

    def configure(self, lr, stochastic):
        layer = self.layer
        s_in = fixed.from_float(self.description.scale(layer.inputs[0]))
        s_out = fixed.from_float(layer.record.scale)

        def scale(c):
            """The weight scale from the requantization: s_in * s_w / s_out = M * 2^(shift - 31).
            Made a channel at a time: a list of them all, long integers, was this build's peak."""
            return fixed.div(fixed.mul((layer.multiplier[c], layer.shift[c] - 31), s_out), s_in)

        if self.below:
            self.quantize_params[1] = stochastic
            # The input gradient W^T E is in units of the error's scale times the largest s_w.
            largest = max(range(self.channels), key=lambda c: layer.multiplier[c] << (layer.shift[c] + 31))
            self.top_scale = scale(largest)
        if self.trainable:
            self.weight_params[3] = self.bias_params[3] = stochastic
        for c in range(self.channels):
            s_w = scale(c)
            if self.below:
                # s_w[c] / max s_w as a requantization (M, shift) with M * 2^(shift - 31) <= 1.
                m, e = fixed.div(s_w, self.top_scale)
                if e + 31 < -31:  # below what a requantization holds: the channel passes nothing
                    m, e = 0, -31
                self.ratio[0][c], self.ratio[1][c] = m, e + 31
            if self.trainable:
                steps.set_standardized(self.base, c, lr, s_w, s_in)

    def run(self, fqt, fraction, factor):
        layer, error = self.layer, self.error
        acts = fqt.model.acts
        kernels.clamp_mask(error, acts[layer.output], self.mask_params)
        if self.below:
            kernels.fill(self.wide, 0)
            kernels.bias_grad(self.wide, error, self.widen_params)
            kernels.requantize(self.scaled, self.wide, self.ratio[0], self.ratio[1], self.requant_params)
            self.input_grad(self.gx, layer.weight, self.scaled, self.input_params)
            self.quantize_params[2] = fqt.seeds[self.seed_at]
            fqt.exponent += kernels.quantize_s8(self.error_in, self.gx, self.quantize_params)
            if self.join is not None:
                self.join.merge(fqt, self.error_in)
        if not self.trainable:
            return
        # After the input gradient: the layers below get the error of the weights the forward used.
        self._select(fraction, factor)
        stochastic, seed = self.weight_params[3], fqt.seeds[self.update_seed_at]
        x = acts[layer.inputs[0]]
        for gw, grad_params, std_params, weight, multipliers, shifts, update_params in self.groups:
            kernels.fill(gw, 0)
            self.weight_grad(gw, x, error, grad_params)
            kernels.standardize(gw, std_params)
            update_params[3] = stochastic
            update_params[4] = seed
            kernels.sgd_update(weight, gw, multipliers, shifts, update_params)
        kernels.fill(self.gb, 0)
        kernels.bias_grad(self.gb, error, self.bias_grad_params)
        kernels.standardize(self.gb, self.bias_std_params)
        self.bias_params[4] = fqt.seeds[self.update_seed_at + 1]
        kernels.sgd_update(layer.bias, self.gb, self.bias_multipliers, self.bias_shifts, self.bias_params)

    def _select(self, fraction, factor):
        """This step's steps: the base ones times the schedule factor for the top-k channels by
        error norm, 0 for the others (k = max(1, floor(fraction * N))); every channel's if the
        layer's share of the largest layer's gradient work is within the fraction."""
        n = self.channels
        weight_high, weight_shift, bias_high, bias_shift = self.base
        wm, bm = self.weight_multipliers, self.bias_multipliers
        ws, bs = self.weight_shifts, self.bias_shifts
        for c in range(n):
            ws[c] = weight_shift[c] - 2
            bs[c] = bias_shift[c] - 2
        k = (fraction * n) >> 15
        if k >= n or self.share <= fraction:
            for c in range(n):
                wm[c] = weight_high[c] * factor
                bm[c] = bias_high[c] * factor
            return
        if k < 1:
            k = 1
        kernels.channel_norms(self.scores, self.error, self.norm_params)
        self.topk_params[1] = k
        ranking = self.rankings[k - 1]
        kernels.topk(ranking, self.scores, self.topk_params)
        for c in range(n):
            wm[c] = 0
            bm[c] = 0
        for j in range(k):
            c = ranking[j]
            wm[c] = weight_high[c] * factor
            bm[c] = bias_high[c] * factor

    def memory(self):
        base = steps.base_bytes(self.base) if self.trainable else 0
        return 4 * sum(len(p) for p in self.params) + 24 * len(getattr(self, "rankings", None) or ()) + base
