"""Float pre-training: softmax cross-entropy, Adam, shuffled mini-batches; deterministic for a seed."""

import numpy as np

from mcutrain_host.network import to_float
from mcutrain_host.optim import Adam
from mcutrain_host.progress import Progress


def softmax_cross_entropy(logits, labels):
    """(mean loss, gradient of the mean loss with respect to the logits)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(labels))
    grad = np.exp(log_p)
    grad[rows, labels] -= 1
    return -log_p[rows, labels].mean(), grad / len(labels)


def train(network, images, labels, epochs, batch_size, lr, seed, heldout=None):
    """Trains in place; prints a progress bar per epoch and, given (images, labels), held-out accuracy."""
    rng = np.random.default_rng(seed)
    steps_per_epoch = -(-len(images) // batch_size)
    optimizer = Adam(network.parameters(), lr, epochs * steps_per_epoch)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(images))
        bar = Progress(len(images), f"epoch {epoch}/{epochs}")
        loss_sum = correct = 0
        for start in range(0, len(images), batch_size):
            batch = order[start:start + batch_size]
            logits = network.logits(to_float(images[batch]), train=True)
            loss, grad = softmax_cross_entropy(logits, labels[batch])
            network.backward(grad)
            optimizer.step()
            loss_sum += loss * len(batch)
            correct += int((logits.argmax(axis=1) == labels[batch]).sum())
            seen = start + len(batch)
            bar.update(len(batch), loss=loss_sum / seen, acc=correct / seen)
        if heldout is not None:
            bar.metrics["heldout_acc"] = float((network.predict(heldout[0]) == heldout[1]).mean())
        bar.close()
