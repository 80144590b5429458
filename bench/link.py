"""make bench-link: samples per second and payload efficiency of the serial link, printed, never
judged, on the virtual board over a pipe and over a pseudo-terminal.

Efficiency is payload bytes (image and label) over every byte on the wire, both directions:
frame headers, COBS, CRCs, sample headers and acknowledgements count against it. "evaluate"
streams evaluation samples (the board runs inference per batch); "train" streams training samples
to a cheap trainer (ZO node perturbation of the last layer, 1 query), so the link, not training,
dominates.
"""

import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mcutrain import link as protocol
from mcutrain import serve
from mcutrain_host.board import ports, transports
from mcutrain_host.board.link import Link
from mcutrain_host.board.session import format_settings

TINY = Path(__file__).resolve().parents[1] / "models" / "tiny.mcut"
SETTINGS = {"method": "zo", "mode": "np", "layers": [6], "queries": 1, "batch": 8}
COUNT = 2000


def measure(pty, flags, images, labels):
    with tempfile.TemporaryDirectory() as tmp:
        ports.deploy_virtual("256K", TINY, Path(tmp) / "flash", SETTINGS)
        board = transports.VirtualBoard(Path(tmp) / "flash", Path(tmp) / "board.ckpt", heap="256K", pty=pty)
        try:
            link = Link(board, window=8)
            link.hello()
            link.request(protocol.CONFIG, format_settings(SETTINGS).encode())
            start = time.monotonic()
            for i in range(COUNT):
                payload = struct.pack("<IBB", i, flags, labels[i]) + images[i]
                link.send_sample(payload, lambda status, body: None, useful=len(images[i]) + 1)
            link.drain()
            seconds = time.monotonic() - start
            stats = link.stats
            link.request(protocol.BYE)
        finally:
            board.close()
    wire = stats["sent_bytes"] + stats["received_bytes"]
    return COUNT / seconds, stats["payload_bytes"] / wire, stats["payload_bytes"] / stats["sent_bytes"]


def main():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, 784, dtype=np.uint8).tobytes() for _ in range(COUNT)]
    labels = rng.integers(0, 10, COUNT).tolist()
    print(f"{COUNT} 28x28 int8 samples to tiny on the virtual board (MicroPython unix port, qnn natmod), "
          f"window 8, batch {SETTINGS['batch']}")
    print(f"{'transport':10} {'stream':9} {'samples/s':>10} {'efficiency':>11} {'host->board only':>17}")
    for name, pty in (("pipe", False), ("pty", True)):
        for stream, flags in (("evaluate", serve.EVAL), ("train", 0)):
            rate, both, down = measure(pty, flags, images, labels)
            print(f"{name:10} {stream:9} {rate:10.0f} {100 * both:10.1f}% {100 * down:16.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
