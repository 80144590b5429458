"""A training run on a board over the link: configure, stream training and evaluation samples in
order, take live settings, and survive resets.

The run is a fixed plan of units, ("guard", sample), ("eval", round) and ("train", sample id),
walked in order: a guard's samples (mcutrain.guard) first, so the board has checked the state
before the first step, and its kept state back (BEST) before the last evaluation.
The board acknowledges every sample with its counters: steps, training samples applied and a
CRC-32 of their ids. When the board resets or the link drops, the host reconnects, the board
resumes from its last checkpoint and reports how many samples that checkpoint holds, and the
walk restarts right after the last of them: no sample lost, none applied twice.
"""

import struct
import time
import zlib

from mcutrain import link as protocol
from mcutrain import serve
from mcutrain_host.board.link import BoardError, BoardReset, Link, LinkDown, parse_info

RESULT = struct.Struct("<BIIIiH")  # event, steps, samples, checksum, loss, correct


def format_settings(settings):
    """{'lr': 0.01, 'layers': [4, 6]} -> 'lr=0.01;layers=4/6' (mcutrain.serve.parse_settings);
    layers None (every weighted layer) -> 'layers=all'."""
    def text(value):
        if value is None:
            return "all"
        if isinstance(value, (list, tuple)):
            return "/".join(str(v) for v in value)
        if isinstance(value, bool):
            return str(int(value))
        return str(value)
    return ";".join(f"{k}={text(v)}" for k, v in settings.items())


def built_with(settings):
    """The settings a trainer is built with, in mcutrain.serve.BUILT_WITH's order: a run's first
    CONFIG, and deploy's check, whose texts are then the same for the same plan."""
    return {key: settings[key] for key in serve.BUILT_WITH if key in settings}


def expected_checksum(count):
    """The board's CRC-32 after applying training samples 0..count-1 once each, in order."""
    return zlib.crc32(struct.pack(f"<{count}I", *range(count))) if count else 0


class Stream:
    """What to send: int8 images (n, size) as bytes per image, labels, for training, evaluation
    and the guard (none by default); the guard checks at every evaluation."""

    def __init__(self, train_x, train_y, test_x, test_y, epochs, batch, eval_every, guard_x=(), guard_y=()):
        self.train_x, self.train_y, self.test_x, self.test_y = train_x, train_y, test_x, test_y
        self.guard_x, self.guard_y = guard_x, guard_y
        total = epochs * len(train_y)
        self.total = total - total % batch
        if not self.total:
            raise ValueError(f"{len(train_y)} samples x {epochs} epochs is less than one batch of {batch}")
        self.test_count = len(test_y) - len(test_y) % batch  # whole evaluation batches only
        self.guard_count = len(guard_y) - len(guard_y) % batch
        if len(guard_y) and not self.guard_count:
            raise ValueError(f"a guard of {len(guard_y)} samples is less than one batch of {batch}")
        eval_every = max(batch, eval_every - eval_every % batch) if eval_every else self.total
        self.guard_every = eval_every // batch  # in steps
        self.units = [("guard", j) for j in range(self.guard_count)] + [("eval", 0)]
        rounds = 1
        for i in range(self.total):
            self.units.append(("train", i))
            if (i + 1) % eval_every == 0 or i + 1 == self.total:
                self.units.append(("eval", rounds))
                rounds += 1

    def after(self, applied):
        """The unit index to resume at when the board holds training samples 0..applied-1."""
        return 0 if applied == 0 else self.units.index(("train", applied - 1)) + 1

    def train_payload(self, i):
        j = i % len(self.train_y)
        return struct.pack("<IBB", i, 0, int(self.train_y[j])) + self.train_x[j]

    def eval_payload(self, j):
        return struct.pack("<IBB", j, serve.EVAL, int(self.test_y[j])) + self.test_x[j]

    def guard_payload(self, j):
        return struct.pack("<IBB", j, serve.GUARD, int(self.guard_y[j])) + self.guard_x[j]

    def run_settings(self):
        """The guard's settings of a run's CONFIG."""
        return {"guard": self.guard_count, "guard_every": self.guard_every} if self.guard_count else {}


class Session:
    """Runs a Stream on a board. `connect()` gives a fresh transport (a restarted virtual board, a
    reopened serial port); `report(record)` receives every metrics record; `pending()` returns
    settings typed live, as a dict, or {}."""

    def __init__(self, connect, settings, stream, report, pending=dict, checkpoint_every=20, window=8,
                 max_reconnects=20, model_crc=None, elapsed=0.0):
        self.connect, self.settings, self.stream = connect, dict(settings), stream
        self.report, self.pending = report, pending
        self.checkpoint_every, self.window, self.max_reconnects = checkpoint_every, window, max_reconnects
        self.transport = self.link = None
        self.reconnects = 0
        self.board = {}
        self.counters = (0, 0, 0)  # steps, samples, checksum as last acknowledged
        self.evals = {}
        self.eval_correct = 0
        self.start_time = time.monotonic() - elapsed  # a resumed run's clock goes on from its last record
        self.link_stats = {}
        self.model_crc = model_crc
        self.kept = None  # what the board's guard kept (BEST's answer), once asked

    def elapsed(self):
        return round(time.monotonic() - self.start_time, 3)

    def open(self, resume):
        """(Re)connects, configures the board and returns the unit index to continue from."""
        if self.link is not None:
            self._keep_stats()
        self.transport = self.connect(self.transport)
        self.link = Link(self.transport, window=self.window)
        self.board = self.link.hello()
        if self.board.get("version") != str(protocol.VERSION):
            raise BoardError(f"the board speaks protocol {self.board.get('version')}, this host {protocol.VERSION}")
        if self.model_crc and self.board.get("model") != self.model_crc:
            raise BoardError(f"the board holds model {self.board.get('model')}, this run's model is {self.model_crc}: "
                             f"`mcutrain deploy --model ...` it first")
        # Two CONFIGs: the first builds the trainer (or restores it), as deploy's check did; the
        # second sets the rest.
        build = dict(built_with(self.settings), resume=int(resume))
        self.link.request(protocol.CONFIG, format_settings(build).encode())
        rest = {k: v for k, v in self.settings.items() if k not in build}
        rest.update(checkpoint_every=self.checkpoint_every, **self.stream.run_settings())
        info = parse_info(self.link.request(protocol.CONFIG, format_settings(rest).encode()))
        steps, samples, checksum = int(info["steps"]), int(info["samples"]), int(info["checksum"], 16)
        self.counters = (steps, samples, checksum)
        return self.stream.after(samples)

    def run(self, resume=False):
        """Walks the whole plan; returns the final counters (steps, samples, checksum). resume=True
        continues an interrupted run (`mcutrain train --resume`) from the board's last checkpoint."""
        position = self.open(resume=resume)
        if resume:
            self.report({"event": "resume", "t": self.elapsed(), "resumed_at": self.counters[1],
                         "steps": self.counters[0]})
        while True:
            try:
                self._walk(position)
                self.link.drain()
                self.link.request(protocol.SAVE)  # the run's final state, for `mcutrain repl` and a next run
                break
            except (BoardReset, LinkDown) as e:
                self.reconnects += 1
                if self.reconnects > self.max_reconnects:
                    raise
                position = self._recover(e)
        return self.counters

    def _recover(self, reason):
        while True:
            try:
                position = self.open(resume=True)
                break
            except (BoardReset, LinkDown) as e:
                self.reconnects += 1
                if self.reconnects > self.max_reconnects:
                    raise
                reason = e
        self.report({"event": "reconnect", "t": self.elapsed(), "reason": str(reason),
                     "resumed_at": self.counters[1], "steps": self.counters[0]})
        return position

    def _walk(self, position):
        units = self.stream.units
        for index in range(position, len(units)):
            kind, which = units[index]
            self._apply_pending()
            if kind == "train":
                self.link.send_sample(self.stream.train_payload(which), self._on_train,
                                      useful=len(self.stream.train_x[0]) + 1)
            elif kind == "guard":
                self.link.send_sample(self.stream.guard_payload(which), self._on_guard,
                                      useful=len(self.stream.guard_x[0]) + 1)
            else:
                if index == len(units) - 1 and self.stream.guard_count:
                    self._keep_best()
                self._evaluate(which)

    def _evaluate(self, round_number):
        self.eval_correct = 0
        self.eval_round = round_number
        for j in range(self.stream.test_count):
            self.link.send_sample(self.stream.eval_payload(j), self._on_eval, useful=len(self.stream.test_x[0]) + 1)
        self.link.drain()
        total = self.stream.test_count
        self.evals[round_number] = self.eval_correct / total
        self.report({"event": "eval", "t": self.elapsed(), "round": round_number, "samples": self.counters[1],
                     "steps": self.counters[0], "correct": self.eval_correct, "total": total,
                     "accuracy": self.eval_correct / total})

    def _result(self, status, body):
        if status != protocol.OK:
            raise BoardError(body.decode(errors="replace"))
        event, steps, samples, checksum, loss, correct = RESULT.unpack(body)
        self.counters = (steps, samples, checksum)
        return event, loss, correct

    def _on_train(self, status, body):
        event, loss, _ = self._result(status, body)
        if event == serve.STEPPED:
            self.report({"event": "step", "t": self.elapsed(), "samples": self.counters[1],
                         "steps": self.counters[0], "loss": loss / 65536})

    def _keep_best(self):
        """The guard's kept state back on the board, before the last evaluation measures it."""
        self.link.drain()
        answer = parse_info(self.link.request(protocol.BEST))
        self.kept = {key: int(value) for key, value in answer.items()}
        self.report(dict({"event": "guard", "t": self.elapsed(), "samples": self.counters[1],
                          "steps": self.counters[0]}, **self.kept))

    def _on_guard(self, status, body):
        self._result(status, body)

    def _on_eval(self, status, body):
        event, _, correct = self._result(status, body)
        if event == serve.EVALUATED:
            self.eval_correct += correct

    def _apply_pending(self):
        for key, value in self.pending().items():
            record = {"event": "set", "t": self.elapsed(), "samples": self.counters[1], "key": key,
                      "value": value}
            if key in serve.RUN_SETTINGS:  # resume=1 would take the board's counters off the host's plan
                record["error"] = f"{key} is the host's to set, not a setting to type during a run"
            else:
                try:
                    self.link.request(protocol.CONFIG, format_settings({key: value}).encode())
                    self.settings[key] = value
                except BoardError as e:
                    record["error"] = str(e)
            self.report(record)

    def stats(self):
        """The board's trainer stats and memory, as text values."""
        return parse_info(self.link.request(protocol.STATS))

    def close(self):
        """BYE: the board leaves the server (its REPL comes back), then the transport closes."""
        if self.link is not None:
            try:
                self.link.request(protocol.BYE)
            except (LinkDown, BoardReset):
                pass
            self._keep_stats()
        if self.transport is not None:
            self.transport.close()

    def _keep_stats(self):
        for k, v in self.link.stats.items():
            self.link_stats[k] = self.link_stats.get(k, 0) + v
        self.link_stats["damaged_frames"] = self.link_stats.get("damaged_frames", 0) + self.link.parser.damaged



def evaluate_on_board(connect, images, labels, layer, batch=1):
    """Correct predictions of the board's model on the images, streamed as evaluation samples.
    The server needs a trainer to plan its batch: one of the cheapest kind (the weighted layer
    `layer`, trained by nothing here)."""
    transport = connect(None)
    try:
        board_link = Link(transport)
        board = board_link.hello()
        board_link.request(protocol.CONFIG, format_settings({"batch": batch, "layers": [layer]}).encode())
        correct = []

        def on_answer(status, body):
            if status != protocol.OK:
                raise BoardError(body.decode(errors="replace"))
            event, _, _, _, _, count = RESULT.unpack(body)
            if event == serve.EVALUATED:
                correct.append(count)

        usable = len(labels) - len(labels) % batch
        for j in range(usable):
            board_link.send_sample(struct.pack("<IBB", j, serve.EVAL, int(labels[j])) + images[j], on_answer)
        board_link.drain()
        board_link.request(protocol.BYE)
        return sum(correct), usable, board
    finally:
        transport.close()
