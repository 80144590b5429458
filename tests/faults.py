"""A transport wrapper that damages the byte stream both ways, like a bad cable: in 32-byte
blocks, each block is independently corrupted (1% of blocks, so 1% of bytes, in bursts),
dropped, duplicated, or delayed. A real serial line can lose and garble bytes but never reorder
them, so neither does this."""

import time

BLOCK = 32


class Faulty:
    def __init__(self, inner, rng, corrupt=0.01, drop=0.005, duplicate=0.002, delay=0.002):
        self.inner, self.rng = inner, rng
        self.corrupt, self.drop, self.duplicate, self.delay = corrupt, drop, duplicate, delay
        self.counts = {"corrupted": 0, "dropped": 0, "duplicated": 0, "delayed": 0, "bytes": 0}

    def damage(self, data):
        out = bytearray()
        for start in range(0, len(data), BLOCK):
            block = bytearray(data[start:start + BLOCK])
            self.counts["bytes"] += len(block)
            r = self.rng.random()
            if r < self.corrupt:
                noise = self.rng.integers(1, 256, len(block), dtype=int)
                block = bytearray(b ^ int(n) for b, n in zip(block, noise))
                self.counts["corrupted"] += len(block)
            elif r < self.corrupt + self.drop:
                self.counts["dropped"] += len(block)
                continue
            elif r < self.corrupt + self.drop + self.duplicate:
                block = block + block
                self.counts["duplicated"] += len(block) // 2
            elif r < self.corrupt + self.drop + self.duplicate + self.delay:
                time.sleep(float(self.rng.uniform(0.0, 0.05)))
                self.counts["delayed"] += len(block)
            out += block
        return bytes(out)

    def write(self, data):
        self.inner.write(self.damage(data))

    def read(self, timeout):
        return self.damage(self.inner.read(timeout))

    def restart(self):
        self.inner.restart()

    def kill(self):
        self.inner.kill()

    def close(self):
        self.inner.close()


class Delayed:
    """A board slower than the host expects: every byte from the board arrives `latency` seconds
    after the board sent it (a fixed delay, not a rate limit: pipelined answers stay pipelined)."""

    def __init__(self, inner, latency):
        self.inner, self.latency = inner, latency
        self.queue = []  # (due time, bytes), oldest first
        self.closed = None  # the inner transport's end, raised once what came before it is read

    def write(self, data):
        self.inner.write(data)

    def read(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            due = bytearray()
            while self.queue and self.queue[0][0] <= now:
                due += self.queue.pop(0)[1]
            if due:
                return bytes(due)
            if self.closed and not self.queue:
                raise self.closed
            if now >= deadline:
                return b""
            until = min(deadline, self.queue[0][0]) if self.queue else deadline
            if self.closed:
                time.sleep(until - now)
                continue
            try:
                data = self.inner.read(until - now)
            except Exception as e:  # the link's end (LinkDown): after the bytes still on their way
                self.closed = e
                continue
            if data:
                self.queue.append((time.monotonic() + self.latency, data))

    def restart(self):
        self.queue.clear()
        self.closed = None
        self.inner.restart()

    def kill(self):
        self.inner.kill()

    def close(self):
        self.inner.close()
