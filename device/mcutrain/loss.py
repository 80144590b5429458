"""The training loss: integer softmax cross-entropy of the model's logits, in Q16 nats.

Planned once per model plan: the labels, per-sample losses and output error live in buffers
of their own, so evaluating the loss allocates nothing.
"""

from array import array

from mcutrain import fixed
from mcutrain.backend import kernels

Q16 = 1 << 16
NO_ERROR = bytearray(0)  # cross_entropy's empty grad: the losses alone


class Loss:
    def __init__(self, model):
        batch, classes = model.batch, model.classes
        logits = model.description.layers[-1]
        # The logit scale as Q16, from its float32 bits: the same integer on every board.
        scale_q16 = fixed.to_int(fixed.from_float(logits.scale), 16)
        self.params = array("i", (batch, classes, logits.zero_point, scale_q16))
        self.labels = bytearray(batch)
        self.per_sample = array("i", bytes(4 * batch))
        self.spare = array("i", bytes(4 * batch))
        self.error = bytearray(batch * classes)  # softmax - one_hot, int8 at scale 1/127

    def set_labels(self, labels):
        # A reference, not a copy: a slice assignment would allocate a slice object per step.
        self.labels = labels

    def keep_per_sample(self):
        """Swaps in the spare per-sample buffer, returning the one holding the last losses."""
        kept, self.per_sample = self.per_sample, self.spare
        self.spare = kept
        return kept

    def __call__(self, logits):
        """The batch-mean loss in Q16; per-sample losses in self.per_sample. A zeroth-order query
        reads no more: the output error would cost the Cortex-M0 as much again."""
        return kernels.cross_entropy(self.per_sample, NO_ERROR, logits, self.labels, self.params)

    def with_error(self, logits):
        """__call__, and the output error FQT back-propagates (softmax - one_hot) in self.error."""
        return kernels.cross_entropy(self.per_sample, self.error, logits, self.labels, self.params)
