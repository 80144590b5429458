"""Do no harm: an adaptation keeps the best state that a guard of held-out samples has seen.

The guard is a few labeled samples of the new domain that no step trains on: their images in a
file (flash on a board), their labels in RAM. The state before the first step is the first kept
one. A later state is kept instead when a sign test on the guard says it is better than that
first state and it scores at least as high as the kept one: among the guard samples that exactly
one of the two states classifies right, the new state must win by more than two standard
deviations of a fair coin, (wins - losses)^2 > 4 (wins + losses). A state that only looks better
by chance is not kept, so a model that was already fine stays as it was.

    g = Guard(t, "guard", 200)       # after the trainer: its model's batch reads the guard
    g.add(x, y)                      # the held-out samples, any number at a time
    g.check()                        # before training and every so often: True if kept
    g.restore()                      # the kept state back into the trainer
"""

from mcutrain import checkpoint
from mcutrain.model import ModelError


def better(hits, start_hits):
    """Whether the state that scored `hits` (1 per guard sample classified right) is significantly
    better than the one that scored `start_hits`, by the sign test above."""
    wins = losses = 0
    for i in range(len(hits)):
        d = hits[i] - start_hits[i]
        if d > 0:
            wins += 1
        elif d < 0:
            losses += 1
    return wins > losses and (wins - losses) * (wins - losses) > 4 * (wins + losses)


class Guard:
    def __init__(self, trainer, path, count):
        if count < 1:
            raise ValueError("a guard needs at least one sample, got %r" % (count,))
        self.trainer, self.path, self.count = trainer, path, count
        self.labels = bytearray(count)
        self.hits = bytearray(count)
        self.start_hits = bytearray(count)  # the first state's
        self.added = 0
        self.kept_step = -1  # the trainer's step count when the kept state was kept; -1: none yet
        self.kept_correct = 0
        self._images = None
        open(path, "wb").close()
        checkpoint.remove(path + ".best")  # an older guard's kept state must not come back

    def add(self, images, labels):
        """Appends samples (int8 images back to back, one label byte each) to the guard."""
        n, size = len(labels), self.trainer.model.input_size
        if len(images) != n * size:
            raise ValueError("%d bytes of images for %d labels of %d-byte images" % (len(images), n, size))
        if self.added + n > self.count:
            raise ValueError("the guard holds %d samples; %d more do not fit" % (self.count, self.added + n - self.count))
        with open(self.path, "ab") as f:
            f.write(images)
        for i in range(n):
            self.labels[self.added + i] = labels[i]
        self.added += n

    def score(self):
        """Guard samples the trainer's model classifies right; one byte per sample in self.hits.
        Reads one planned batch of images at a time into a buffer of the guard's own."""
        if self.added < self.count:
            raise ValueError("the guard has %d of its %d samples" % (self.added, self.count))
        model = self.trainer.model
        size, batch = model.input_size, model.batch
        if self._images is None or len(self._images) != batch * size:
            self._images = bytearray(batch * size)  # again only when the batch was re-planned
        images, labels, hits = memoryview(self._images), memoryview(self.labels), memoryview(self.hits)
        correct = 0
        with open(self.path, "rb") as f:
            for start in range(0, self.count, batch):
                n = min(batch, self.count - start)
                x = images if n == batch else images[:n * size]
                if f.readinto(x) != n * size:
                    raise ModelError("the guard's file %s ends before its %d samples" % (self.path, self.count))
                correct += model.evaluate(x, labels[start:start + n], hits[start:start + n])
        return correct

    def check(self):
        """Scores the trainer's state; keeps it (a checkpoint at <path>.best) if it is the first,
        or significantly better than the first and scores at least as high as the kept one.
        Returns whether it was kept."""
        correct = self.score()
        if self.kept_step < 0:
            self.hits, self.start_hits = self.start_hits, self.hits
        elif correct < self.kept_correct or not better(self.hits, self.start_hits):
            return False
        self.trainer.save(self.path + ".best")
        self.kept_step, self.kept_correct = self.trainer.steps, correct
        return True

    def memory(self):
        """Bytes the guard holds: in RAM (labels, two bytes of hits per sample, the batch buffer
        once scored), and in the file (its images; the kept checkpoint comes on top)."""
        images = len(self._images) if self._images is not None else 0
        return {"guard_ram": 3 * self.count + images, "guard_file": self.count * self.trainer.model.input_size}

    def restore(self):
        """Puts the kept state back into the trainer. Its step and sample counts stay: they count
        what it has seen, not what it kept. Returns the step count of the kept state."""
        t = self.trainer
        if self.kept_step < 0:
            raise ValueError("nothing kept yet: check() before the first step")
        steps, samples = t.steps, t.samples
        if not t.resume(self.path + ".best"):
            raise ValueError("the kept state at %s.best is gone or damaged" % self.path)
        t.steps, t.samples = steps, samples
        return self.kept_step
