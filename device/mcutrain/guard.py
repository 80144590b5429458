"""Do no harm: an adaptation keeps the best state that a guard of held-out samples has seen.

The guard is a few labeled samples of the new domain that no step trains on: their images in a
file (flash on a board), their labels in RAM. The state before the first step is the first kept
one. A later state is kept instead when a sign test on the guard says it is better than that
first state and it scores higher than the kept one: among the guard samples that exactly one of
the two states classifies right, the new state must win by more than three standard
deviations of a fair coin, (wins - losses)^2 > 9 (wins + losses). A state that only looks better
by chance is not kept, so a model that was already fine stays as it was. Three, not two: a run
checks many states against the same start, and at two standard deviations each check lets a
state that is no better through about one time in 44, at three about one in 740.

    g = Guard.new(t, "guard", 200)   # after the trainer: its model's batch reads the guard
    g.add(x, y)                      # the held-out samples, any number at a time
    g.check()                        # before training and every so often: True if kept
    g.restore()                      # the kept state back into the trainer
"""

import os
import struct

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
    return wins > losses and (wins - losses) * (wins - losses) > 9 * (wins + losses)


def keeps(hits, correct, start_hits, kept_correct):
    """Whether a later state that scored `hits` (`correct` of them right) replaces the kept one,
    which scored `kept_correct`: the rule above, against the first state's `start_hits`."""
    return correct > kept_correct and better(hits, start_hits)


class Guard:
    """Files at `path`: the images (<path>), the labels then the first state's hits
    (<path>.labels), the kept step and score (<path>.kept) and the kept state's checkpoint
    (<path>.best), so that a board reset mid-run loses no guard (Guard.reopen)."""

    def __init__(self, trainer, path, count, images=None):
        if count < 1:
            raise ValueError("a guard needs at least one sample, got %r" % (count,))
        self.trainer, self.path, self.count = trainer, path, count
        self.labels = bytearray(count)
        self.hits = bytearray(count)
        self.start_hits = bytearray(count)  # the first state's
        self.added = 0
        self.kept_step = -1  # the trainer's step count when the kept state was kept; -1: none yet
        self.kept_correct = 0
        self.images = images  # a batch of images read from the file: the caller's, else made on first use
        self.images_given = images is not None

    @classmethod
    def new(cls, trainer, path, count, images=None):
        """An empty guard; an older one's files at `path` are emptied or removed. `images`: a
        buffer of one batch of images to score through (a server's batch buffer), if given."""
        guard = cls(trainer, path, count, images)
        for name in (path, path + ".labels"):
            open(name, "wb").close()
        _remove(path + ".kept")
        checkpoint.remove(path + ".best")  # an older guard's kept state must not come back
        return guard

    @classmethod
    def reopen(cls, trainer, path, count, images=None):
        """The guard of `count` samples whose files are at `path`, as its last check left it;
        ValueError if they do not hold a whole checked guard."""
        guard = cls(trainer, path, count, images)
        try:
            with open(path + ".labels", "rb") as f:
                complete = f.readinto(guard.labels) == count and f.readinto(guard.start_hits) == count
            with open(path + ".kept", "rb") as f:
                kept = f.read(8)
        except OSError:
            complete = False
        if not complete or len(kept) != 8:
            raise ValueError("no checked guard of %d samples at %s to resume" % (count, path))
        guard.added = count
        guard.kept_step, guard.kept_correct = struct.unpack("<ii", kept)
        return guard

    def add(self, images, labels):
        """Appends samples (int8 images back to back, one label byte each) to the guard."""
        n, size = len(labels), self.trainer.model.input_size
        if len(images) != n * size:
            raise ValueError("%d bytes of images for %d labels of %d-byte images" % (len(images), n, size))
        if self.added + n > self.count:
            raise ValueError("the guard holds %d samples; %d more do not fit" % (self.count, self.added + n - self.count))
        with open(self.path, "ab") as f:
            f.write(images)
        with open(self.path + ".labels", "ab") as f:
            f.write(labels)
        for i in range(n):
            self.labels[self.added + i] = labels[i]
        self.added += n

    def score(self):
        """Guard samples the trainer's model classifies right; one byte per sample in self.hits.
        Reads one planned batch of images at a time into self.images."""
        if self.added < self.count:
            raise ValueError("the guard has %d of its %d samples" % (self.added, self.count))
        model = self.trainer.model
        size, batch = model.input_size, model.batch
        if self.images is None or len(self.images) != batch * size:
            self.images = bytearray(batch * size)  # again only when the batch was re-planned
            self.images_given = False
        images, labels, hits = memoryview(self.images), memoryview(self.labels), memoryview(self.hits)
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
        or significantly better than the first and scores higher than the kept one.
        Returns whether it was kept."""
        correct = self.score()
        first = self.kept_step < 0
        if first:
            self.hits, self.start_hits = self.start_hits, self.hits
        elif not keeps(self.hits, correct, self.start_hits, self.kept_correct):
            return False
        self.trainer.save(self.path + ".best")
        if first:
            with open(self.path + ".labels", "ab") as f:
                f.write(self.start_hits)
        # After the checkpoint: a reset between the two leaves an older step and score beside a
        # newer state, which passed the same test.
        with open(self.path + ".kept", "wb") as f:
            f.write(struct.pack("<ii", self.trainer.steps, correct))
        self.kept_step, self.kept_correct = self.trainer.steps, correct
        return True

    def memory(self):
        """Bytes the guard holds: in RAM (labels, two bytes of hits per sample, and a batch of
        images unless the caller gave that), and in the file (its images; the kept checkpoint
        comes on top)."""
        images = len(self.images) if self.images is not None and not self.images_given else 0
        return {"guard_ram": 3 * self.count + images, "guard_file": self.count * self.trainer.model.input_size}

    def take(self, images, labels):
        """A server's batch of guard samples; the last one checks the state before the first step,
        the first kept one."""
        self.add(images, labels)
        if self.added == self.count:
            self.check()

    def keep_best(self, path, extra):
        """A server's BEST: checks the current state, puts the kept one back and checkpoints it
        at `path` (with the server's `extra` buffers) as the run's state; answers what it kept."""
        if self.kept_step < 0:
            raise ValueError("the guard has not checked the start: its samples first")
        self.check()
        self.restore()
        if path is not None:
            self.trainer.save(path, extra)
        return "kept_step=%d;kept_correct=%d;start_correct=%d;count=%d" % (
            self.kept_step, self.kept_correct, sum(self.start_hits), self.count)

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


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def for_server(server, count):
    """The guard of `count` samples of a server's run, its files beside the checkpoint; None for
    0. A trainer that has applied samples was guarded before them: a reset, so the guard's files
    are taken up. The server's batch buffer scores it: a check comes after a whole batch, when
    the buffer is free."""
    if not count:
        return None
    if server.checkpoint is None:
        raise ValueError("a guard needs a checkpoint path on the board: its files go beside it")
    t = server.trainer
    if count % t.batch:
        raise ValueError("guard=%d is not whole batches of %d" % (count, t.batch))
    path = server.checkpoint + ".guard"
    if t.samples:
        return Guard.reopen(t, path, count, server.images)
    return Guard.new(t, path, count, server.images)
