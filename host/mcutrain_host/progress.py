"""A one-line progress bar on stderr: redrawn in place on a terminal, one line per bar in a log."""

import sys
import time


class Progress:
    WIDTH = 30

    def __init__(self, total, label, stream=sys.stderr):
        self.total, self.label, self.stream = total, label, stream
        self.done, self.start, self.drawn = 0, time.monotonic(), 0.0
        self.metrics = {}
        self.live = stream.isatty()

    def update(self, count, **metrics):
        self.done += count
        self.metrics = metrics
        if self.live and time.monotonic() - self.drawn > 0.2:
            self.drawn = time.monotonic()
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def close(self):
        self.stream.write(("\r" if self.live else "") + self.line() + "\n")
        self.stream.flush()

    def line(self):
        filled = self.WIDTH * self.done // max(self.total, 1)
        values = " ".join(f"{k} {v:.4f}" for k, v in self.metrics.items())
        return (f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} "
                f"{values} {time.monotonic() - self.start:.0f}s")
