"""Proposed test (not added to the repo): the scanline rasteriser against a per-pixel reference."""

from __future__ import annotations

import numpy as np

from partparse.data.synthetic.raster import Capsules, draw_capsules


def _reference_labels(caps: Capsules, frames: int, h: int, w: int) -> np.ndarray:
    """Painter's order by brute force: every capsule tests every pixel, later ones overwrite."""
    labels = np.zeros((frames, h, w), np.uint8)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    for m in range(len(caps.r0)):
        a, b = caps.a[m], caps.b[m]
        v = b - a
        t = np.clip(((xs - a[0]) * v[0] + (ys - a[1]) * v[1]) / max(v @ v, 1e-12), 0, 1)
        d2 = (xs - a[0] - t * v[0]) ** 2 + (ys - a[1] - t * v[1]) ** 2
        r = caps.r0[m] + t * (caps.r1[m] - caps.r0[m])
        labels[caps.frame[m]][d2 <= r * r] = caps.label[m]
    return labels


def test_capsule_labels_match_a_per_pixel_painter_reference():
    rng = np.random.default_rng(0)
    frames, h, w, m = 3, 60, 80, 40
    a = rng.uniform([-10, -10], [w + 10, h + 10], (m, 2))
    b = a + rng.normal(0, 20, (m, 2))
    b[::7] = a[::7]                                                   # some discs
    b[1::9, 1] = a[1::9, 1]                                           # some horizontal capsules
    r0 = rng.uniform(0.3, 9, m)
    caps = Capsules(np.sort(rng.integers(0, frames, m)), a, b, r0, r0 * rng.uniform(0.5, 1.2, m),
                    rng.uniform(0, 255, (m, 3)).astype(np.float32), np.arange(1, m + 1, dtype=np.uint8))
    canvas = np.zeros((frames, h, w, 4), np.uint8)
    draw_capsules(canvas, caps, np.array([0.0, 0.0, 1.0]), 0.4)
    ref = _reference_labels(caps, frames, h, w)
    assert (canvas[..., 3] != ref).mean() < 1e-3                      # float32 vs float64 at the rims
    assert (canvas[..., 3] > 0).sum() > 1000
