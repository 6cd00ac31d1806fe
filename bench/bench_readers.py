"""Decode latency per reader type, beside raw baselines measured in the same run.

Each figure is one complete read: an RDM6300 frame fed to the stream decoder, the
26 or 34 bits of a Wiegand frame plus the poll that ends it, a text line. Each
operation is timed on its own (so p99 shows the outliers), and the baselines are
timed the same way: a bare Python call, and ``bytes.hex`` of a 14-byte frame, the
cheapest thing a decoder could do with its input. Ratios are against the
``bytes.hex`` baseline's p50. Run: ``.venv/bin/python bench/bench_readers.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.line import LineDecoder
from drivers.raw import decode_raw
from drivers.rdm6300 import Rdm6300Decoder, encode_frame
from drivers.wiegand import WiegandDecoder, encode_wiegand26, encode_wiegand34

SECONDS_EACH = 1.5


def measure(op: Callable[[], object], seconds: float = SECONDS_EACH) -> list[int]:
    """Nanoseconds of each call to ``op`` over about ``seconds``."""
    clock = time.perf_counter_ns
    for _ in range(1000):  # warm up caches and the allocator
        op()
    samples: list[int] = []
    end = clock() + int(seconds * 1e9)
    while clock() < end:
        for _ in range(1000):
            start = clock()
            op()
            samples.append(clock() - start)
    return samples


def quantile(samples: list[int], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q * 100) - 1] / 1000


def rdm6300_op() -> Callable[[], object]:
    decoder = Rdm6300Decoder("bench")
    frames = [encode_frame(0x67, n) for n in (1, 2)]
    state = {"i": 0}

    def op() -> object:
        i = state["i"] = state["i"] + 1
        return decoder.feed(frames[i & 1], float(i))  # another card each time: a read

    return op


def wiegand_op(bits: str) -> Callable[[], object]:
    decoder = WiegandDecoder("bench")
    values = [int(b) for b in bits]
    state = {"t": 0.0}

    def op() -> object:
        t = state["t"]
        for value in values:
            t += 0.002
            decoder.bit(value, t)
        state["t"] = t + 1.0
        return decoder.poll(t + 0.025)

    return op


def line_op() -> Callable[[], object]:
    decoder = LineDecoder("bench")
    return lambda: decoder.feed(b"0004567890\n")


def main() -> None:
    frame = encode_frame(0x67, 0x003B51C6)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("baseline: bare call", lambda: None),
        ("baseline: bytes.hex (14 B)", frame.hex),
        ("rdm6300 frame", rdm6300_op()),
        ("wiegand26 bits + poll", wiegand_op(encode_wiegand26(90, 324))),
        ("wiegand34 bits + poll", wiegand_op(encode_wiegand34(1234, 56789))),
        ("line", line_op()),
        ("decode_raw rdm6300 hex", lambda: decode_raw("b", "rdm6300", frame.hex())),
    ]
    print(f"{'case':<28} {'p50 µs':>8} {'p99 µs':>8} {'× hex p50':>10} {'samples':>9}")
    reference = None
    for name, op in cases:
        samples = measure(op)
        p50, p99 = quantile(samples, 0.50), quantile(samples, 0.99)
        if name.startswith("baseline: bytes.hex"):
            reference = p50
        ratio = f"{p50 / reference:10.1f}" if reference else f"{'-':>10}"
        print(f"{name:<28} {p50:8.2f} {p99:8.2f} {ratio} {len(samples):9d}")
    print("for scale: an RDM6300 frame takes 14.6 ms on the wire, a Wiegand 26 frame ~75 ms")


if __name__ == "__main__":
    main()
