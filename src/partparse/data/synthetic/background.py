"""Colours and cluttered backgrounds.

The background draws its colours from the same palettes as clothing and skin, plus limb-like sticks in
those colours, so that a detector cannot find people by colour alone.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

#: Clothing colours (RGB); backgrounds reuse them on purpose.
CLOTHING = np.array([
    (200, 40, 40), (40, 70, 160), (30, 30, 35), (235, 235, 230), (60, 130, 60), (230, 200, 40),
    (120, 70, 40), (150, 150, 155), (90, 40, 120), (240, 140, 40), (40, 150, 160), (180, 90, 130),
    (20, 40, 90), (110, 120, 60), (210, 180, 140), (70, 70, 75), (160, 30, 60), (100, 160, 210),
], dtype=np.float32)
SKIN = np.array([(255, 220, 190), (235, 190, 150), (200, 150, 110), (160, 110, 75), (110, 75, 50),
                 (80, 55, 40)], dtype=np.float32)
HAIR = np.array([(20, 15, 10), (60, 40, 25), (110, 80, 45), (200, 170, 110), (140, 60, 30),
                 (160, 160, 160)], dtype=np.float32)


def pick(rng: np.random.Generator, palette: np.ndarray, jitter: float = 12.0) -> np.ndarray:
    """A palette colour with a little random variation, as float32 RGB."""
    c = palette[rng.integers(len(palette))] + rng.normal(0.0, jitter, 3)
    return np.clip(c, 0, 255).astype(np.float32)


def scene_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """A colour for background clutter: clothing (half the time), skin, or anything."""
    u = rng.random()
    if u < 0.5:
        c = pick(rng, CLOTHING, 20)
    elif u < 0.6:
        c = pick(rng, SKIN, 15)
    else:
        c = rng.uniform(0, 255, 3)
    return tuple(int(v) for v in c)


def _low_frequency(rng: np.random.Generator, width: int, height: int, cells: int, amplitude: float) -> np.ndarray:
    small = rng.normal(0.0, 1.0, (cells, cells, 3)).astype(np.float32)
    img = Image.fromarray(np.clip(128 + 40 * small, 0, 255).astype(np.uint8)).resize((width, height), Image.BICUBIC)
    return (np.asarray(img, dtype=np.float32) - 128) / 40 * amplitude


def make_texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A cluttered world texture ``(height, width, 3)`` uint8: wall and floor, shapes, stripes, sticks."""
    top, bottom = np.array(scene_colour(rng), np.float32), np.array(scene_colour(rng), np.float32)
    horizon = int(height * rng.uniform(0.3, 0.6))
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    base = top * (1 - ramp) + bottom * ramp
    base = np.broadcast_to(base, (height, width, 3)).copy()
    base[horizon:] = np.array(scene_colour(rng), np.float32) * rng.uniform(0.6, 1.0)
    base += _low_frequency(rng, width, height, int(rng.integers(3, 9)), rng.uniform(8, 30))
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    scale = min(width, height)
    for _ in range(int(rng.integers(14, 34))):
        kind = rng.integers(5)
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        w, h = rng.uniform(0.03, 0.35) * scale, rng.uniform(0.03, 0.35) * scale
        box = [x - w / 2, y - h / 2, x + w / 2, y + h / 2]
        colour = scene_colour(rng)
        if kind == 0:
            draw.rectangle(box, fill=colour)
        elif kind == 1:
            draw.ellipse(box, fill=colour)
        elif kind == 2:
            pts = [(x + rng.uniform(-w, w), y + rng.uniform(-h, h)) for _ in range(int(rng.integers(3, 7)))]
            draw.polygon(pts, fill=colour)
        elif kind == 3:                          # stripes on a panel
            other, step = scene_colour(rng), max(2.0, rng.uniform(0.01, 0.04) * scale)
            draw.rectangle(box, fill=colour)
            for k in range(int(w // step) + 1):
                if k % 2:
                    draw.rectangle([box[0] + k * step, box[1], box[0] + (k + 1) * step, box[3]], fill=other)
        else:                                    # a limb-like stick with round caps
            r = max(1.0, rng.uniform(0.01, 0.04) * scale)
            x2, y2 = x + rng.uniform(-0.2, 0.2) * scale, y + rng.uniform(-0.2, 0.2) * scale
            draw.line([(x, y), (x2, y2)], fill=colour, width=int(2 * r))
            for cx, cy in ((x, y), (x2, y2)):
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    return np.asarray(img, dtype=np.uint8).copy()


def noise_bank(rng: np.random.Generator, width: int, height: int, sigma: float, margin: int = 8) -> np.ndarray:
    """Gaussian sensor noise ``(height + margin, width + margin, 3)`` float32; frames take shifted crops
    of it, which costs an addition instead of fresh random numbers per frame."""
    return rng.normal(0.0, sigma, (height + margin, width + margin, 3)).astype(np.float32)
