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
        self.set(self.done + count, **metrics)

    def set(self, done, **metrics):
        self.done = done
        self.metrics = metrics
        if self.live and time.monotonic() - self.drawn > 0.2:
            self.drawn = time.monotonic()
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def note(self, text):
        """A line of its own above the bar."""
        self.stream.write(("\r\033[K" if self.live else "") + text + "\n")
        self.stream.flush()
        self.drawn = 0.0

    def close(self):
        if not self.done:  # nothing started (a run that failed to reach its board): no empty bar above the error
            return
        self.stream.write(("\r" if self.live else "") + self.line() + "\n")
        self.stream.flush()

    def line(self):
        filled = self.WIDTH * min(self.done, self.total) // max(self.total, 1)
        elapsed = time.monotonic() - self.start
        values = " ".join(f"{k} {v:.4g}" for k, v in self.metrics.items())
        rate = f"{self.done / elapsed:.1f}/s " if elapsed > 0 else ""
        left = ""
        if 0 < self.done < self.total and elapsed > 0:
            left = f" ({duration(elapsed * (self.total - self.done) / self.done)} left)"
        return (f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} "
                f"{rate}{values} {elapsed:.0f}s{left}")


def duration(seconds):
    """1 h 05 min, 4 min 10 s, 12 s."""
    hours, rest = divmod(round(seconds), 3600)
    if hours:
        return f"{hours} h {rest // 60:02d} min"
    return f"{rest // 60} min {rest % 60:02d} s" if rest >= 60 else f"{rest} s"
