"""Scanline rasteriser of shaded capsules with painter's order, vectorised in NumPy.

A capsule is the set of points within ``r(t) = r0 + t (r1 - r0)`` of its axis point ``a + t (b - a)``,
``t`` the projection of the point on the axis clamped to ``[0, 1]``. Pixel centres sit at integer image
coordinates. All capsules of a chunk of frames are drawn in one pass:

1. every capsule's rows are cut to the span where the strip ``|distance to the axis line| <= max(r0, r1)``
   crosses its bounding box (a superset of its pixels: slanted limbs test far fewer pixels than their
   bounding box holds),
2. NumPy tests all (capsule, pixel) entries of those spans at once,
3. a z-buffer (``np.maximum.at`` over words led by the paint order) keeps, per pixel, the capsule drawn
   last,
4. every entry is shaded (a sphere-like normal lit by one light) and recoloured where it is hair or
   eyes; the z-buffer word carries the colour and label, so the winners need no second pass.

The canvas is RGBL: four bytes per pixel, red, green, blue and the label map.

No Python loop runs over pixels or over capsules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class HeadStyle:
    """Per capsule ``(M,)``: ``is_head`` mask, ``hair`` colour ``(M, 3)``, ``hair_line`` (-1 top .. 1
    chin along the head's axis), ``eyes`` (drawn when facing the camera) and ``yaw`` (face shift)."""

    is_head: np.ndarray
    hair: np.ndarray
    hair_line: np.ndarray
    eyes: np.ndarray
    yaw: np.ndarray


@dataclass
class Capsules:
    """M capsules in painter's order (a later capsule covers an earlier one of the same frame).

    ``frame`` ``(M,)`` canvas frame index; ``a``, ``b`` ``(M, 2)`` axis ends in image px; ``r0``, ``r1``
    ``(M,)`` radii at ``a`` and ``b`` in px; ``colour`` ``(M, 3)`` float32 RGB in 0..255; ``label``
    ``(M,)`` uint8 label-map value; ``heads`` optional hair and eyes.
    """

    frame: np.ndarray
    a: np.ndarray
    b: np.ndarray
    r0: np.ndarray
    r1: np.ndarray
    colour: np.ndarray
    label: np.ndarray
    heads: HeadStyle | None = None


@dataclass
class _Spans:
    """Row spans of all capsules: per row its capsule ``cap``, image row ``y``, first column ``x0`` and
    length ``n`` (pixels ``x0 .. x0 + n - 1``)."""

    cap: np.ndarray
    y: np.ndarray
    x0: np.ndarray
    n: np.ndarray


def _row_spans(caps: Capsules, width: int, height: int) -> _Spans:
    a, v = caps.a, caps.b - caps.a
    reach = np.maximum(caps.r0, caps.r1) + 0.01          # margin for rounding; the exact test comes later
    lo, hi = np.minimum(caps.a, caps.b) - reach[:, None], np.maximum(caps.a, caps.b) + reach[:, None]
    x_lo = np.clip(np.ceil(lo[:, 0]), 0, width).astype(np.int64)
    x_hi = np.clip(np.floor(hi[:, 0]) + 1, 0, width).astype(np.int64)
    y_lo = np.clip(np.ceil(lo[:, 1]), 0, height).astype(np.int64)
    y_hi = np.clip(np.floor(hi[:, 1]) + 1, 0, height).astype(np.int64)
    rows = np.where(x_hi > x_lo, np.maximum(y_hi - y_lo, 0), 0)
    cap = np.repeat(np.arange(len(rows)), rows)
    y = np.arange(len(cap)) - np.repeat(np.cumsum(rows) - rows - y_lo, rows)
    # Unit normal (nx, ny) of the axis; |nx| ~ 0 (a horizontal axis or a disc) leaves the whole box row.
    length = np.hypot(v[:, 0], v[:, 1])
    nx = np.divide(-v[:, 1], length, out=np.zeros_like(length), where=length > 1e-9)
    ny = np.divide(v[:, 0], length, out=np.zeros_like(length), where=length > 1e-9)
    inv_nx = 1.0 / np.maximum(np.abs(nx), 1e-9)
    mid = a[cap, 0] - (y - a[cap, 1]) * (ny * np.sign(nx) * inv_nx)[cap]
    half = (reach * inv_nx)[cap]
    x0 = np.maximum(x_lo[cap], np.ceil(np.maximum(mid - half, -1.0)).astype(np.int64))
    x1 = np.minimum(x_hi[cap], np.floor(np.minimum(mid + half, width)).astype(np.int64) + 1)
    return _Spans(cap, y, x0, np.maximum(x1 - x0, 0))


@dataclass
class _Entries:
    """The (capsule, pixel) entries of all row spans, row after row: ``start`` ``(rows,)`` first entry of
    each row, ``key`` ``(N,)`` int32 flat pixel index into the ``(F, H, W)`` canvas, ``px`` ``(N,)``
    float32 ``x - a_x`` of the row's capsule, ``dy`` ``(rows,)`` ``y - a_y``."""

    spans: _Spans
    start: np.ndarray
    key: np.ndarray
    px: np.ndarray
    dy: np.ndarray

    def spread(self, row_values, dtype=np.float32) -> np.ndarray:
        """Per-row values repeated for every entry of their row."""
        return np.repeat(np.asarray(row_values, dtype=dtype), self.spans.n)


def _entries(caps: Capsules, spans: _Spans, frames: int, height: int, width: int) -> _Entries:
    n = int(spans.n.sum())
    if max(n, frames * height * width) >= 1 << 31:
        raise ValueError(f"too many pixels in one pass ({n} entries, {frames * height * width} pixels); "
                         "draw fewer frames at a time")
    cap = spans.cap
    e = _Entries(spans, np.cumsum(spans.n) - spans.n, np.empty(0, np.int32), np.empty(0, np.float32),
                 spans.y - caps.a[cap, 1])
    off = np.arange(n, dtype=np.int32)                   # x - x0 (float32 only on these small offsets)
    off -= e.spread(e.start, np.int32)
    e.key = off + e.spread(caps.frame[cap] * (height * width) + spans.y * width + spans.x0, np.int32)
    e.px = off.astype(np.float32)
    e.px += e.spread(spans.x0 - caps.a[cap, 0])
    return e


def _coverage(caps: Capsules, e: _Entries) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``inside`` (entry within its capsule), ``t`` (clamped axis position), ``d2`` (squared distance to
    the axis point) and ``rad`` (radius there) per entry."""
    cap, v, px = e.spans.cap, caps.b - caps.a, e.px
    len2 = np.maximum(v[:, 0] ** 2 + v[:, 1] ** 2, 1e-12)
    # s = unclamped projection on the axis, t = clamped; |q - t v|^2 = |q|^2 + |v|^2 t (t - 2 s).
    s = px * e.spread((v[:, 0] / len2)[cap])
    s += e.spread(e.dy * (v[:, 1] / len2)[cap])
    t = np.clip(s, 0.0, 1.0)
    d2 = px * px
    d2 += e.spread(e.dy * e.dy)
    s *= -2.0
    s += t
    s *= t
    s *= e.spread(len2[cap])
    d2 += s
    rad = e.spread((caps.r1 - caps.r0)[cap])
    rad *= t
    rad += e.spread(caps.r0[cap])
    return d2 <= rad * rad, t, d2, rad


def _shade(caps: Capsules, e: _Entries, t: np.ndarray, d2: np.ndarray, rad: np.ndarray, light: np.ndarray,
           ambient: float) -> np.ndarray:
    """``ambient + (1 - ambient) * lit`` per entry, lit by ``light`` along a sphere-like normal: image part
    ``(q - t v) / r``, z part filling the unit length. Overwrites ``t``, ``d2`` and ``rad``."""
    lx, ly, lz = (float(x) for x in light)
    np.maximum(rad, 0.5, out=rad)
    inv = np.reciprocal(rad, out=rad)
    d2 *= inv
    d2 *= inv
    np.subtract(1.0, d2, out=d2)
    np.maximum(d2, 0.0, out=d2)
    lit = np.sqrt(d2, out=d2)
    lit *= np.float32(lz)
    along = e.px * np.float32(lx)
    along += e.spread(e.dy * ly)
    t *= e.spread(((caps.b - caps.a) @ [lx, ly])[e.spans.cap])
    along -= t
    along *= inv
    lit += along
    np.clip(lit, 0.0, 1.0, out=lit)
    lit *= np.float32(1.0 - ambient)
    lit += np.float32(ambient)
    return lit


#: A z-buffer word, little-endian: paint order in the high 32 bits, then label, blue, green, red bytes
#: (its low half is an RGBL pixel).
_WORD, _HALF = np.dtype("<i8"), np.dtype("<u4")


def draw_capsules(canvas: np.ndarray, caps: Capsules, light: np.ndarray, ambient: float,
                  scratch: np.ndarray | None = None) -> None:
    """Draw ``caps`` into ``canvas`` ``(F, H, W, 4)`` uint8 RGBL (colour and label map), in place.
    ``light`` is a unit 3-vector (image x right, y down, z towards the viewer); a pixel's colour is
    ``ambient + (1 - ambient) * lit`` times the capsule's colour, truncated to uint8.

    The z-buffer is one 64-bit word per pixel holding ``paint order | label | RGB``: every entry
    (capsule, pixel) packs its shaded colour behind its paint order and ``np.maximum.at`` keeps the one
    painted last, so no per-entry data has to be gathered again after the depth test. ``scratch``
    (optional, ``>= F * H * W`` little-endian int64) holds that z-buffer: reusing one between calls
    saves faulting fresh memory in every call.
    """
    f, h, w = canvas.shape[:3]
    spans = _row_spans(caps, w, h)
    n = int(spans.n.sum())
    if n == 0:
        return
    e = _entries(caps, spans, f, h, w)
    inside, t, d2, rad = _coverage(caps, e)
    shade = _shade(caps, e, t, d2, rad, light, ambient)
    del t, d2, rad
    colour = [e.spread(caps.colour[spans.cap, ch]) for ch in range(3)]
    if caps.heads is not None:
        _hair_and_eyes(caps, caps.heads, e, colour, shade)
    rgbl = np.empty((n, 4), np.uint8)
    for ch in range(3):                                   # float -> uint8 casts truncate
        np.multiply(colour[ch], shade, out=rgbl[:, ch], casting="unsafe")
    rgbl[:, 3] = e.spread(caps.label[spans.cap], np.uint8)
    del colour, shade

    word = np.arange(1, n + 1, dtype=_WORD)
    word <<= 32
    word |= rgbl.view(_HALF).reshape(-1)
    word *= inside                                        # outside entries lose to anything
    if scratch is None or scratch.dtype != _WORD or scratch.size < f * h * w:
        scratch = np.empty(f * h * w, _WORD)
    zbuf = scratch[: f * h * w]
    pixels = canvas.view(_HALF).reshape(-1)
    np.copyto(zbuf, pixels)                               # what is there already: paint order 0
    np.maximum.at(zbuf, e.key, word)
    np.copyto(pixels, zbuf, casting="unsafe")             # the low half (int64 -> uint32 wraps)


def _hair_and_eyes(caps: Capsules, heads: HeadStyle, e: _Entries, colour: list[np.ndarray],
                   shade: np.ndarray) -> None:
    """Recolour head entries in place: hair above the hair line, darkened eyes when facing the camera.
    Head coordinates: ``along`` the axis (-1 top .. 1 chin), ``across`` it in head radii; both are
    linear in ``px`` along a row, so rows get their coefficients and entries two multiply-adds."""
    spans = e.spans
    rows = np.flatnonzero(heads.is_head[spans.cap] & (spans.n > 0))
    if rows.size == 0:
        return
    counts = spans.n[rows]
    sel = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts - e.start[rows], counts)
    p = spans.cap[rows]
    v = caps.b[p] - caps.a[p]
    length = np.hypot(v[:, 0], v[:, 1])
    ux, uy = (v / np.maximum(length, 1e-6)[:, None]).T
    qy = e.dy[rows]
    half = length / 2
    rx = np.maximum(caps.r0[p], 0.5)
    qx = e.px[sel]

    def linear(slope, offset):                                   # per row slope * px + offset
        out = qx * np.repeat(slope.astype(np.float32), counts)
        out += np.repeat(offset.astype(np.float32), counts)
        return out

    along = linear(ux / (half + rx), (qy * uy - half) / (half + rx))
    hair = np.flatnonzero(along < np.repeat(heads.hair_line[p].astype(np.float32), counts))
    for ch in range(3):
        colour[ch][sel[hair]] = np.repeat(heads.hair[p, ch].astype(np.float32), counts)[hair]
    eyed = heads.eyes[p]
    if not eyed.any():
        return
    across = linear(uy / rx, -qy * ux / rx - 0.5 * heads.yaw[p])        # minus the face's yaw shift
    along += np.float32(0.1)
    along *= along
    eye = np.zeros(len(sel), bool)
    for side in (-0.4, 0.4):
        eye |= (across - np.float32(side)) ** 2 + along < 0.03
    eye &= np.repeat(eyed, counts)
    shade[sel[eye]] *= 0.25
