"""The packed per-series ring."""

from __future__ import annotations

from stackmedic.resources.ring import SeriesRing


def test_ring_wraps_and_keeps_unknown_cpu() -> None:
    ring = SeriesRing(3)
    assert ring.points() == [] and len(ring) == 0
    for i in range(5):
        ring.append((float(i), None if i == 3 else i * 1.5, None, i * 1000, 10_000, i / 10))
    assert len(ring) == 3
    assert ring.points() == [
        (2.0, 3.0, None, 2000, 10_000, 0.2),
        (3.0, None, None, 3000, 10_000, 0.3),
        (4.0, 6.0, None, 4000, 10_000, 0.4),
    ]
