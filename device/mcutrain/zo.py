"""Quantized zeroth-order training of one layer (docs/algorithms.md, section 1).

Weight perturbation (WP): perturb the layer's int8 weights and int32 bias by +-sigma*u, re-run
the network from the layer's kept input, and apply sum_q dL_q * u_q with `zo_update`, which
regenerates each u_q from its seed: no gradient as large as the layer is ever stored.

Node perturbation (NP): perturb the layer's int8 output by +-sigma*u per sample, re-run the rest
of the network, and keep each query's seed and loss difference dL_b. Where a global average pool
alone reads the layer's output, NP perturbs the pool's output instead: the pool is linear, so
each channel's estimate reaches every position of that channel unchanged but for the 1/(h*w) the
steps fold in, from one node per channel rather than one per position, a far less noisy estimate.
The node gradient sum_q dL_q,b * u_q,b, masked where the output was clamped (straight-through),
is then regenerated a block of output rows at a time (`zo_node_gradient`) and turned into weight
and bias gradients with the layer's own gradient kernels (a local one-layer backward), so no
int32 estimate as large as the layer's output is ever held. The blocks depend on the layer alone,
never on the plan.

Steps are per-channel fixed-point factors combining the learning rate, gradient norm scaling
(GNS), quantization-aware scaling (QAS: weights divided by their scale squared) and the Q16 loss
unit, derived once from float32 settings in mcutrain.fixed; per step they are only multiplied by
the schedule's Q15 factor, in small ints. With `standardize`, NP updates by FQT's rule instead:
each output channel's weight gradient (and the bias vector) standardized, w -= lr (g - mean) / std,
which is scale-free, so layers whose gradients differ by orders of magnitude share one rate.
"""

from array import array

from mcutrain import fixed, groups, scales, steps
from mcutrain.backend import kernels
from mcutrain.trainer import NP, WP

LOSS_UNIT = (1, -16)  # one Q16 loss step, in nats
INT8_SIGMA_MAX = 127
NODE_BLOCK_BYTES = 2048  # a sample's share of one block of a node gradient, as whole output rows


class LayerZO:
    """The ZO state of one trainable layer: its seeds, loss differences, steps and buffers."""

    def __init__(self, trainer, layer, mode):
        if layer.weight is None:
            raise ValueError("layer %d (%s) has no weights to train" % (layer.index, layer.op))
        if mode not in (WP, NP):
            raise ValueError("mode must be 'wp' or 'np', got %r" % (mode,))
        self.trainer, self.layer, self.mode = trainer, layer, mode
        model = trainer.model
        pool = _lone_pool_reading(model, layer) if mode == NP else None
        # The tensor a query restarts from where the step keeps it: WP's input, NP's perturbed
        # nodes (the layer's output or the pool's).
        self.restart_point = layer.index if mode == WP else (pool or layer).output
        out_channels = layer.record.shape[2]
        self.channels = out_channels
        # Depthwise weights are [k_h, k_w, c]: the channel is the innermost index.
        self.inner = 1 if layer.op == "depthwise_conv2d" else len(layer.weight) // out_channels
        # (multiplier >> 17, shift) per channel for weights then bias; this step's steps are planned.
        self.base = steps.base_steps(out_channels)
        self.rounding_seed = array("i", [0])
        if mode == WP:
            self.weight_params = array("i", (len(layer.weight), out_channels, self.inner, 1, 0))
            self.bias_params = array("i", (out_channels, out_channels, 1, 1, 0))
        else:
            self._init_node_perturbation(model, trainer.batch)
        self.configure()

    def _init_node_perturbation(self, model, batch):
        layer = self.layer
        h, w, c = model.description.shape(layer.output)
        nodes = h * w * c
        self.perturbed_nodes = c if self.restart_point != layer.output else nodes
        self.mask_bytes = (self.perturbed_nodes + 7) // 8
        self.row, self.out_rows = w * c, h
        self.block_rows = max(1, min(h, NODE_BLOCK_BYTES // (4 * self.row)))
        record = layer.record
        self.node_params = array("i", (batch, nodes, 0, record.act_min, record.act_max, self.perturbed_nodes))
        geometry = layer.params
        # One parameter block for every call: the output channels of a group (at channels_at),
        # then, for a convolution, the output rows of a block, are set before each.
        self.convolution = layer.op != "fully_connected"
        if self.convolution:
            self.grad_kernel = kernels.conv2d_weight_grad if layer.op == "conv2d" else kernels.depthwise_weight_grad
            self.grad_params = array("i", tuple(geometry[:14]) + (0, self.channels, 0, self.block_rows))
            self.channels_at = 14
        else:
            self.grad_kernel = kernels.fc_weight_grad
            self.grad_params = array("i", (batch, geometry[1], geometry[2], geometry[3], 0, self.channels))
            self.channels_at = 4
        self.bias_grad_params = array("i", (batch * self.block_rows * w, self.channels))
        self.weight_params = array("i", (len(layer.weight), self.channels, self.inner, 1, 0))
        self.bias_params = array("i", (self.channels, self.channels, 1, 1, 0))

    def plan(self, plan, lean, restart, intact):
        """Adds this layer's stages of a step to `plan`. Its queries re-run the network from
        tensor `restart`, kept from the step's forward pass (0, the input, keeps nothing): WP's
        from there, NP's from the layer's output, which it first makes again from there unless
        `restart` is that output (self.restart_point). Lean, gradients are made in groups.
        `intact`: a tensor above `restart` that the stages before left as the network now makes
        it, under every layer they updated (None: none), from which a stage of its own measures
        the loss before the queries, where the layers between would make it again for nothing."""
        layer, batch, last = self.layer, plan.batch, plan.last
        self.start = restart if self.mode == WP else self.restart_point
        self.base_from = None
        if intact is not None and intact > self.start and not (self.mode == WP and self.trainer.antithetic):
            self.base_from = intact
            self.base_stage = plan.begin_stage()
            plan.forward(intact)
        self.stage = plan.begin_stage()
        since = plan.time
        self.recompute = self.mode == NP and restart < self.restart_point
        self.recompute_from = restart
        if self.recompute:
            plan.forward(restart, self.restart_point)  # the layer's input and output (and pool), made again
        if self.start < last:
            plan.forward(self.start)
        else:
            plan.read([last])  # the perturbed logits go straight into the loss
        channels = self.channels
        if self.mode == WP:
            queries = self.trainer.queries
            masks = {"weight_mask": plan.bytes((len(layer.weight) + 7) // 8, since),
                     "bias_mask": plan.bytes((channels + 7) // 8, since)}
            update_since = plan.time
            plan.read([])  # the update, after the queries
            self.buffers = {"weight_seeds": plan.int32(queries, since), "bias_seeds": plan.int32(queries, since),
                            "coeffs": plan.int32(queries, since)}
            self.buffers.update(masks)
        else:
            self.group = groups.group_size(channels, self.inner, lean, layer.op == "depthwise_conv2d")
            masks = plan.bytes(batch * self.mask_bytes, since)
            update_since = plan.time
            plan.read([layer.inputs[0], layer.output])  # the local gradient's
            queries = self.trainer.queries
            self.buffers = {"masks": masks, "seeds": plan.int32(queries * batch, since),
                            "coeffs": plan.int32(queries * batch, since),
                            "node_block": plan.int32(batch * self.block_rows * self.row, update_since),
                            "weight_gradient": plan.int32(groups.gradient_count(layer.weight, channels, self.inner,
                                                                                 self.group), update_since),
                            "bias_gradient": plan.int32(channels, update_since)}
        # This step's steps exist only for the update, when the activations are dead.
        for name in ("weight_multipliers", "weight_shifts", "bias_multipliers", "bias_shifts"):
            self.buffers[name] = plan.int32(channels, update_since)

    def bind(self, model):
        """Takes this layer's buffers from the placed plan."""
        for name, buf in self.buffers.items():
            setattr(self, name, model.view(buf))
        if self.mode == NP:
            nodes, size = self.perturbed_nodes, self.mask_bytes
            out = model.activation(self.restart_point, self.stage)
            self.sample_outputs = [out[b * nodes:(b + 1) * nodes] for b in range(model.batch)]
            self.sample_masks = [self.masks[b * size:(b + 1) * size] for b in range(model.batch)]
            # The last block of rows may be shorter than the others.
            last_rows = self.out_rows - (self.out_rows - 1) // self.block_rows * self.block_rows
            self.last_block = self.node_block[:model.batch * last_rows * self.row]
            # self.grad_params serves every part: a part's channels are set before its calls.
            self.groups = [part[:3] + part[4:] for part in groups.split(
                self.weight_gradient, self.layer.weight, self.weight_multipliers, self.weight_shifts,
                None, self.weight_params, self.channels, self.inner, self.group)]
            if self.trainer.standardize:
                # Only where used: on a board, every object made while a trainer is built may split
                # the block its arena needs. Channel (i // inner) % n; depthwise's is innermost.
                self.std_params = [array("i", (len(part[2]), part[1], self.inner, steps.Q_BITS))
                                   for part in self.groups]
                self.bias_std_params = array("i", (self.channels, 1, self.channels, steps.Q_BITS))

    def configure(self):
        """Derives the per-channel base steps from the trainer's settings (integers only)."""
        t, layer = self.trainer, self.layer
        description = t.model.description
        s_in = scales.activation(description, layer.inputs[0])
        s_out = scales.activation(description, layer.output)
        lr = fixed.from_float(t.lr if t.zo_lr is None else t.zo_lr)
        weight_dims, bias_dims = len(layer.weight), self.channels
        if self.mode == WP:
            if t.sigma > INT8_SIGMA_MAX:
                raise ValueError("sigma must be at most %d for int8 weights" % INT8_SIGMA_MAX)
            # GNS: n / (n + d - 1) times the 1/n of the average; antithetic differences count twice.
            dims = weight_dims + bias_dims if t.gns else 1
            common = fixed.div(lr, fixed.mul(fixed.from_int(t.queries + dims - 1), fixed.from_int(
                2 if t.antithetic else 1)))
            common = fixed.mul(common, LOSS_UNIT)
            weight_common = fixed.div(common, fixed.from_int(t.sigma))
            bias_common = fixed.div(common, fixed.from_int(t.bias_sigma))
        else:
            if t.act_sigma > INT8_SIGMA_MAX:
                raise ValueError("act_sigma must be at most %d for int8 activations" % INT8_SIGMA_MAX)
            dims = self.perturbed_nodes if t.gns else 1
            pooled = self.restart_point
            if pooled != layer.output:
                # A step of the pool's output is h*w steps of its input's: dL/dy = dL/dp / (s_p h w).
                h, w, c = description.shape(layer.output)
                s_out = fixed.mul(scales.activation(description, pooled), fixed.from_int(h * w))
            # dL/dy ~ g_y / ((n + N - 1) sigma_a) in Q16 per sample; the batch loss is the mean.
            common = fixed.div(lr, fixed.from_int((t.queries + dims - 1) * t.act_sigma * t.batch))
            common = fixed.mul(fixed.div(common, s_out), LOSS_UNIT)
            weight_common = fixed.mul(common, s_in)
            bias_common = common
        for c in range(self.channels):
            s_w = scales.weight(description, layer, c)
            if self.mode == NP and t.standardize:
                steps.set_standardized(self.base, c, lr, s_w, s_in)
                continue
            s_b = fixed.mul(s_in, s_w)
            if self.mode == WP:
                weight = _qas(weight_common, s_w, t.qas)
                bias = _qas(bias_common, s_b, t.qas)
            else:
                # Through dy/dW = (x - z_x) s_x s_w / s_y: lr * G / s_w^2 leaves one 1/s_w.
                weight = fixed.div(weight_common, s_w) if t.qas else fixed.mul(weight_common, s_w)
                bias = fixed.div(bias_common, s_b) if t.qas else fixed.mul(bias_common, s_b)
            steps.set_base(self.base[0], self.base[1], c, weight)
            steps.set_base(self.base[2], self.base[3], c, bias)
        stochastic = 1 if t.stochastic else 0
        self.weight_params[3] = self.bias_params[3] = stochastic

    def scale_steps(self, schedule_q15):
        """This step's steps: the base ones times the schedule factor, in small ints."""
        weight_high, weight_shift, bias_high, bias_shift = self.base
        wm, ws = self.weight_multipliers, self.weight_shifts
        bm, bs = self.bias_multipliers, self.bias_shifts
        for c in range(self.channels):
            wm[c] = weight_high[c] * schedule_q15
            ws[c] = weight_shift[c] - 2
            bm[c] = bias_high[c] * schedule_q15
            bs[c] = bias_shift[c] - 2

    def step(self, base_loss, schedule_q15):
        """One ZO estimate and update of this layer; the update's steps are the base ones times
        the schedule's Q15 factor. `base_loss` is the loss of the last forward, which the
        network's parameters still give (per sample in the loss too), or None: measured anew."""
        t = self.trainer
        model = t.model
        if base_loss is None and self.base_from is not None:
            model.stage(self.base_stage)
            base_loss = t.loss(model.forward(self.base_from))
        model.stage(self.stage)
        kernels.seeds(self.rounding_seed, t.stream)
        self.weight_params[4] = self.bias_params[4] = self.rounding_seed[0]
        if self.mode == NP and self.recompute:
            model.forward(self.recompute_from, self.start)
        if base_loss is None and not (self.mode == WP and t.antithetic):
            base_loss = t.loss(self._forward(self.start))
        if self.mode == WP:
            self._weight_perturbation(base_loss, schedule_q15)
        else:
            self._node_perturbation(schedule_q15)

    def _forward(self, start):
        """The logits from tensor `start` on; perturbed logits go straight into the loss."""
        model = self.trainer.model
        return model.forward(start) if start < len(model.layers) else model.activation(start)

    def _weight_perturbation(self, base_loss, schedule_q15):
        # Separate assignments: MicroPython builds a tuple on the heap for four names at once.
        t, layer = self.trainer, self.layer
        model, loss = t.model, t.loss
        weight_mask = self.weight_mask
        bias_mask = self.bias_mask
        kernels.seeds(self.weight_seeds, t.stream)
        kernels.seeds(self.bias_seeds, t.stream)
        start = self.start
        for q in range(t.queries):
            ws, bs = self.weight_seeds[q], self.bias_seeds[q]
            kernels.perturb(layer.weight, weight_mask, ws, t.sigma, 1)
            kernels.perturb(layer.bias, bias_mask, bs, t.bias_sigma, 1)
            plus = loss(self._forward(start))
            kernels.unperturb(layer.weight, weight_mask, ws, t.sigma, 1)
            kernels.unperturb(layer.bias, bias_mask, bs, t.bias_sigma, 1)
            if t.antithetic:
                kernels.perturb(layer.weight, weight_mask, ws, t.sigma, -1)
                kernels.perturb(layer.bias, bias_mask, bs, t.bias_sigma, -1)
                minus = loss(self._forward(start))
                kernels.unperturb(layer.weight, weight_mask, ws, t.sigma, -1)
                kernels.unperturb(layer.bias, bias_mask, bs, t.bias_sigma, -1)
            else:
                minus = base_loss
            self.coeffs[q] = plus - minus
        self.scale_steps(schedule_q15)
        # A minus sign is in zo_update: w -= step * sum(coeff * u), i.e. against the gradient.
        kernels.zo_update(layer.weight, self.weight_seeds, self.coeffs, self.weight_multipliers, self.weight_shifts,
                          self.weight_params)
        kernels.zo_update(layer.bias, self.bias_seeds, self.coeffs, self.bias_multipliers, self.bias_shifts,
                          self.bias_params)

    def _node_perturbation(self, schedule_q15):
        t, layer = self.trainer, self.layer
        model, loss = t.model, t.loss
        batch = model.batch
        base_losses = loss.keep_per_sample()
        # All queries' seeds at once: the stream gives them in the order query by query would.
        kernels.seeds(self.seeds, t.stream)
        start = self.start
        for q in range(t.queries):
            at = q * batch
            for b in range(batch):
                kernels.perturb(self.sample_outputs[b], self.sample_masks[b], self.seeds[at + b], t.act_sigma, 1)
            loss(self._forward(start))
            for b in range(batch):
                kernels.unperturb(self.sample_outputs[b], self.sample_masks[b], self.seeds[at + b], t.act_sigma, 1)
                self.coeffs[at + b] = loss.per_sample[b] - base_losses[b]
        loss.keep_per_sample()  # the base losses back in place for the layers below
        self.scale_steps(schedule_q15)
        kernels.fill(self.bias_gradient, 0)
        self._local_backward()
        if t.standardize:
            kernels.standardize(self.bias_gradient, self.bias_std_params)
        kernels.sgd_update(layer.bias, self.bias_gradient, self.bias_multipliers, self.bias_shifts, self.bias_params)

    def _local_backward(self):
        """Updates the weights from the node gradient, regenerated a block of output rows at a
        time for each group of output channels (mcutrain.groups); the first group's pass also
        sums the bias gradient."""
        model, layer = self.trainer.model, self.layer
        x, y = model.activation(layer.inputs[0]), model.activation(layer.output)
        node_params, bias_params, grad_params = self.node_params, self.bias_grad_params, self.grad_params
        per_row = model.batch * (self.row // self.channels)  # bias_grad's positions in a row of every sample
        stochastic, rounding = self.weight_params[3], self.weight_params[4]
        standardize = self.trainer.standardize
        with_bias = True
        part = 0
        for first, n, gradient, weight, multipliers, shifts, update_params in self.groups:
            grad_params[self.channels_at] = first
            grad_params[self.channels_at + 1] = n
            kernels.fill(gradient, 0)
            first_row = 0
            while first_row < self.out_rows:
                rows = min(self.block_rows, self.out_rows - first_row)
                block = self.node_block if rows == self.block_rows else self.last_block
                node_params[2] = first_row * self.row
                kernels.zo_node_gradient(block, y, self.seeds, self.coeffs, node_params)
                if with_bias:
                    bias_params[0] = rows * per_row
                    kernels.bias_grad(self.bias_gradient, block, bias_params)
                if self.convolution:
                    grad_params[16] = first_row
                    grad_params[17] = rows
                self.grad_kernel(gradient, x, block, grad_params)
                first_row += rows
            with_bias = False
            update_params[3] = stochastic
            update_params[4] = rounding
            if standardize:
                kernels.standardize(gradient, self.std_params[part])
                part += 1
            kernels.sgd_update(weight, gradient, multipliers, shifts, update_params)

    def memory(self):
        """Bytes of this layer's training state outside the arena."""
        total = 0
        for name in ("weight_params", "bias_params", "grad_params", "bias_grad_params", "bias_std_params",
                     "node_params", "rounding_seed"):
            buf = getattr(self, name, None)
            if buf is not None:
                total += 4 * len(buf)
        # The update parameter blocks of the parts of a grouped gradient (mcutrain.groups.split).
        for part in getattr(self, "groups", ()):
            if part[6] is not self.weight_params:
                total += 4 * len(part[6])
        for block in getattr(self, "std_params", ()):
            total += 4 * len(block)
        return total + steps.base_bytes(self.base)


def _lone_pool_reading(model, layer):
    """The global average pool that alone reads `layer`'s output, or None. A loop, not a list: on
    a board, garbage made while the trainer is built splits the block its arena needs."""
    pool = None
    for other in model.layers:
        if layer.output in other.inputs:
            if pool is not None or other.op != "global_avg_pool":
                return None
            pool = other
    return pool


def _qas(common, scale, enabled):
    """QAS: an integer-domain gradient is divided by the tensor's scale squared."""
    return fixed.div(common, fixed.mul(scale, scale)) if enabled else common
