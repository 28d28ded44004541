"""Rasterise scene frames: background through the camera, people as shaded capsules, occluders, noise.

People are drawn in one vectorised pass per chunk of frames: every primitive (a capsule with a tapering
radius; the head is a capsule along its vertical axis) enumerates the pixels of its bounding window,
NumPy computes distance, coverage and shading for all of them at once, and a z-buffer
(``np.maximum.at`` over a painter's-order index) keeps the primitive drawn last at each pixel. Painter's
order: people far to near (by their sole line), each person legs -> hip -> torso -> neck -> head -> arms.
Occluders come last. No Python loop runs over pixels or over primitives.

Every frame also has a ``uint8`` label map saying which primitive owns each pixel
(:func:`person_label`; 255 = occluder, 0 = background): annotation reads visibility from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

from partparse.data.synthetic.scene import Occluder, Person, Scene
from partparse.data.synthetic.skeleton import PARAM_INDEX
from partparse.data.vocabulary import BODY_PARTS

#: Local labels of one person: the torso (and neck) then the 10 annotated parts in BODY_PARTS order.
LOCAL_LABELS: tuple[str, ...] = ("torso",) + BODY_PARTS
LABELS_PER_PERSON = len(LOCAL_LABELS)
OCCLUDER_LABEL = 255
_LOCAL = {name: i for i, name in enumerate(LOCAL_LABELS)}
#: Index of the head among a person's capsules (legs 6, hip, torso, neck, then the head).
_HEAD_CAPSULE = 9
#: Frames rendered per vectorised pass (bounds the memory of the flat pixel arrays).
CHUNK_FRAMES = 4


def person_label(slot: int, local: str) -> int:
    """Label-map value of part ``local`` of the scene's person ``slot`` (0-based)."""
    return 1 + slot * LABELS_PER_PERSON + _LOCAL[local]


@dataclass
class PersonDrawing:
    """What drawing one person in one frame left behind: image-space keypoints ``(17, 2)``, the pixel
    window ``(x0, y0, x1, y1)`` (exclusive ends) holding all its pixels, and per local label the
    unoccluded area in pixels (analytic, counting what falls outside the frame too)."""

    slot: int
    keypoints: np.ndarray
    window: tuple[int, int, int, int]
    full_area: np.ndarray


@dataclass
class RenderedFrame:
    index: int
    image: np.ndarray                         # (H, W, 3) uint8
    labels: np.ndarray                        # (H, W) uint8
    people: list[PersonDrawing]               # slot order


@dataclass
class _Prims:
    """Primitives of one person over F frames: ``a``/``b`` ``(F, K, 2)`` image px, radii ``(F, K)``,
    ``colour`` ``(K, 3)``, ``label`` ``(K,)``, ``head`` ``(K,)`` bool."""

    a: np.ndarray
    b: np.ndarray
    r0: np.ndarray
    r1: np.ndarray
    colour: np.ndarray
    label: np.ndarray
    head: np.ndarray


def _person_prims(scene: Scene, person: Person, slot: int, frames: np.ndarray) -> tuple[_Prims, np.ndarray, np.ndarray]:
    """Capsules of one person in painter's order, its keypoints ``(F, 17, 2)`` and per-label areas ``(F, 11)``."""
    pts, shape, app, cam = person.points, person.shape, person.appearance, scene.camera
    body = np.concatenate([pts.keypoints[frames], pts.neck[frames, None], pts.pelvis[frames, None],
                           pts.head[frames, None], pts.hand_tip[frames], pts.toe[frames]], axis=1)
    pix = cam.to_image(person.world(body, frames), frames)
    kp, neck, pelvis, head, hand, toe = pix[:, :17], pix[:, 17], pix[:, 18], pix[:, 19], pix[:, 20:22], pix[:, 22:24]
    scale = person.height[frames] * cam.zoom[frames]
    one = np.ones(len(frames))
    caps: list[tuple] = []                       # (a, b, r0, r1 in body units, colour, local label)
    for si, side in enumerate(("left", "right")):
        caps += [(kp[:, 11 + si], kp[:, 13 + si], shape.r_thigh * one, shape.r_thigh * 0.85 * one, app.pants, f"{side}_leg"),
                 (kp[:, 13 + si], kp[:, 15 + si], shape.r_shin * one, shape.r_shin * 0.8 * one,
                  app.skin if app.shorts else app.pants, f"{side}_leg"),
                 (kp[:, 15 + si], toe[:, si], shape.r_foot * one, shape.r_foot * one, app.shoes, f"{side}_foot")]
    caps += [(kp[:, 11], kp[:, 12], shape.r_pelvis * one, shape.r_pelvis * one, app.pants, "hip"),
             (neck, pelvis, shape.r_torso_top * pts.shoulder_w[frames], shape.r_torso_bottom * one, app.shirt, "torso"),
             (neck, head, 0.025 * one, 0.025 * one, app.skin, "torso")]
    roll = pts.head_roll[frames] + cam.roll[frames]
    up = np.stack([np.sin(roll), -np.cos(roll)], axis=-1) * ((shape.head_ry - shape.head_rx) * scale)[:, None]
    assert len(caps) == _HEAD_CAPSULE
    caps.append((head + up, head - up, shape.head_rx * one, shape.head_rx * one, app.skin, "head"))
    for si, side in enumerate(("left", "right")):
        fist = pts.fist[frames, si]
        r_hand = shape.r_hand * (1.0 + 0.35 * fist)
        caps += [(kp[:, 5 + si], kp[:, 7 + si], shape.r_upper_arm * one, shape.r_upper_arm * 0.9 * one, app.shirt, f"{side}_arm"),
                 (kp[:, 7 + si], kp[:, 9 + si], shape.r_forearm * one, shape.r_forearm * 0.85 * one,
                  app.shirt if app.long_sleeves else app.skin, f"{side}_arm"),
                 (kp[:, 9 + si], hand[:, si], r_hand, r_hand * (1.0 - 0.3 * (1 - fist)), app.skin, f"{side}_hand")]
    a = np.stack([c[0] for c in caps], axis=1)
    b = np.stack([c[1] for c in caps], axis=1)
    r0 = np.stack([c[2] for c in caps], axis=1) * scale[:, None]
    r1 = np.stack([c[3] for c in caps], axis=1) * scale[:, None]
    locals_ = np.array([_LOCAL[c[5]] for c in caps])
    prims = _Prims(a, b, r0, r1, np.stack([c[4] for c in caps]).astype(np.float32),
                   (1 + slot * LABELS_PER_PERSON + locals_).astype(np.uint8), locals_ == _LOCAL["head"])
    length = np.hypot(*(b - a).transpose(2, 0, 1))
    cap_area = np.pi * (r0 + r1) ** 2 / 4 + (r0 + r1) * length
    area = np.zeros((len(frames), LABELS_PER_PERSON))
    np.add.at(area.T, locals_, cap_area.T)
    return prims, kp, area


class _FlatRaster:
    """The vectorised pass: all primitives of a chunk, entries = (primitive, pixel) pairs."""

    def __init__(self, n_frames: int, width: int, height: int):
        self.f, self.w, self.h = n_frames, width, height

    def draw(self, images: np.ndarray, labels: np.ndarray, frame: np.ndarray, a: np.ndarray, b: np.ndarray,
             r0: np.ndarray, r1: np.ndarray, colour: np.ndarray, label: np.ndarray, light: np.ndarray,
             ambient: float, heads: "_Heads | None" = None) -> None:
        """Draw M capsules (arrays over M, painter's order = array order within each frame) into
        ``images`` ``(F, H, W, 3)`` float32 and ``labels`` ``(F, H, W)`` uint8. ``heads`` marks the
        capsules that are heads (drawn with hair and eyes)."""
        w, h = self.w, self.h
        r = np.maximum(r0, r1) + 1.0
        xa = np.clip(np.floor(np.minimum(a[:, 0], b[:, 0]) - r), 0, w).astype(np.int32)
        ya = np.clip(np.floor(np.minimum(a[:, 1], b[:, 1]) - r), 0, h).astype(np.int32)
        xb = np.clip(np.ceil(np.maximum(a[:, 0], b[:, 0]) + r) + 1, 0, w).astype(np.int32)
        yb = np.clip(np.ceil(np.maximum(a[:, 1], b[:, 1]) + r) + 1, 0, h).astype(np.int32)
        ww, hh = np.maximum(xb - xa, 0), np.maximum(yb - ya, 0)
        sizes = ww * hh
        n = int(sizes.sum())
        if n == 0:
            return
        # Entry i belongs to primitive prim[i] and sits at row/column offset (oy, ox) of its window.
        # Per-primitive values are spread with np.repeat (cheaper than gathers); float32 arithmetic
        # (exact below 2**24 entries) is much faster than integer division.
        def spread(values):
            return np.repeat(np.asarray(values, dtype=np.float32), sizes)

        prim = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        off = np.arange(n, dtype=np.float32) - spread(np.cumsum(sizes) - sizes)
        wp = spread(ww)
        oy = np.floor((off + 0.5) / wp)
        ox = off - oy * wp
        vx, vy = (b[:, 0] - a[:, 0]).astype(np.float32), (b[:, 1] - a[:, 1]).astype(np.float32)
        inv_len2 = 1.0 / np.maximum(vx * vx + vy * vy, 1e-6)
        px = ox - spread(a[:, 0] - xa)
        py = oy - spread(a[:, 1] - ya)
        vxp, vyp = spread(vx), spread(vy)
        t = (px * vxp + py * vyp) * spread(inv_len2)
        np.clip(t, 0.0, 1.0, out=t)
        dx = px - t * vxp
        dy = py - t * vyp
        d2 = dx * dx + dy * dy
        rad = spread(r1 - r0)
        rad *= t
        rad += spread(r0)
        keep = np.flatnonzero(d2 <= rad * rad)
        prim, dx, dy, d2, rad = prim[keep], dx[keep], dy[keep], d2[keep], rad[keep]
        base = frame.astype(np.int32) * (h * w) + ya * w + xa
        key = base[prim] + oy[keep].astype(np.int32) * w + ox[keep].astype(np.int32)
        order = np.arange(len(prim), dtype=np.int32)
        owner = np.full(self.f * h * w, -1, dtype=np.int32)
        np.maximum.at(owner, key, order)
        top = np.flatnonzero(owner[key] == order)
        prim, dx, dy, d2, rad, key = prim[top], dx[top], dy[top], d2[top], rad[top], key[top]
        inv = 1.0 / np.maximum(rad, 0.5)
        lx, ly, lz = light.astype(np.float32)
        lit = np.sqrt(np.maximum(1.0 - d2 * inv * inv, 0.0)) * lz + (dx * lx + dy * ly) * inv
        np.clip(lit, 0.0, 1.0, out=lit)
        shade = np.float32(ambient) + np.float32(1.0 - ambient) * lit
        rgb = colour[prim]
        if heads is not None:
            _hair_and_eyes(rgb, prim, key % w, (key // w) % h, a, b, r0, heads)
        images.reshape(-1, 3)[key] = rgb * shade[:, None]
        labels.reshape(-1)[key] = label[prim]


@dataclass
class _Heads:
    """Per capsule (M,): ``is_head`` mask, ``hair`` colour ``(M, 3)``, ``hair_line`` (-1 top .. 1 chin),
    ``eyes`` (facing the camera) and ``yaw`` (face shift, as in the keypoints)."""

    is_head: np.ndarray
    hair: np.ndarray
    hair_line: np.ndarray
    eyes: np.ndarray
    yaw: np.ndarray


def _hair_and_eyes(rgb: np.ndarray, prim: np.ndarray, x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray,
                   radius: np.ndarray, heads: _Heads) -> None:
    """Recolour, in place, the head pixels of ``rgb`` (entries ``prim`` at pixels ``x``, ``y``)."""
    sel = np.flatnonzero(heads.is_head[prim])
    if sel.size == 0:
        return
    p = prim[sel]
    down = b[p] - a[p]
    half = np.hypot(down[:, 0], down[:, 1]) / 2
    down /= np.maximum(2 * half, 1e-6)[:, None]
    cx, cy = (a[p, 0] + b[p, 0]) / 2, (a[p, 1] + b[p, 1]) / 2
    ox, oy = x[sel] - cx, y[sel] - cy
    rx = np.maximum(radius[p], 0.5)
    v = (ox * down[:, 0] + oy * down[:, 1]) / (half + rx)
    u = (ox * down[:, 1] - oy * down[:, 0]) / rx
    colour = rgb[sel]
    hair = v < heads.hair_line[p]
    colour[hair] = heads.hair[p][hair]
    for side in (-0.4, 0.4):
        eye = heads.eyes[p] & ((u - side - 0.5 * heads.yaw[p]) ** 2 + (v + 0.1) ** 2 < 0.03)
        colour[eye] *= 0.25
    rgb[sel] = colour


def _draw_occluder(image: np.ndarray, labels: np.ndarray, occ: Occluder, centre: np.ndarray, zoom: float,
                   roll: float) -> None:
    """A flat-shaded (lit from above), optionally striped rectangle or ellipse in front of everything."""
    h, w = labels.shape
    hw, hh = occ.half_w * zoom, occ.half_h * zoom
    r = np.hypot(hw, hh) if occ.kind == "rect" else max(hw, hh)
    xa, ya = max(int(centre[0] - r), 0), max(int(centre[1] - r), 0)
    xb, yb = min(int(centre[0] + r) + 2, w), min(int(centre[1] + r) + 2, h)
    if xa >= xb or ya >= yb:
        return
    px = np.arange(xa, xb, dtype=np.float32)[None, :] - np.float32(centre[0])
    py = np.arange(ya, yb, dtype=np.float32)[:, None] - np.float32(centre[1])
    cs, sn = np.float32(np.cos(roll)), np.float32(np.sin(roll))
    u, v = cs * px + sn * py, -sn * px + cs * py
    if occ.kind == "rect":
        inside = (np.abs(u) <= hw) & (np.abs(v) <= hh)
    else:
        inside = (u / hw) ** 2 + (v / hh) ** 2 <= 1.0
    shade = 0.8 - 0.2 * v / max(hh, 1.0)
    if occ.stripe:
        shade = shade * np.where(np.sin(u / (occ.stripe * zoom) * np.pi) > 0, 1.0, 0.8)
    image[ya:yb, xa:xb][inside] = (occ.colour * shade[..., None])[inside]
    labels[ya:yb, xa:xb][inside] = OCCLUDER_LABEL


def _head_styles(scene: Scene, frames: np.ndarray, ranks: np.ndarray, k: int) -> _Heads:
    """Hair and eyes for the flat capsule arrays ordered ``(F, person rank, K)``."""
    n = len(scene.persons)
    head_k = np.zeros(k, bool)
    head_k[_HEAD_CAPSULE] = True
    hair = np.stack([p.appearance.hair for p in scene.persons])                       # (n, 3)
    line = np.array([p.appearance.hair_line if p.facing > 0 else 0.7 for p in scene.persons])
    eyes = np.array([p.facing > 0 for p in scene.persons])
    yaw = np.stack([p.schedule.pose[frames, PARAM_INDEX["head_yaw"]] for p in scene.persons], axis=1)  # (F, n)
    shape = (len(frames), n, k)
    fi = np.arange(len(frames))[:, None]
    return _Heads(np.broadcast_to(head_k, shape).reshape(-1),
                  np.broadcast_to(hair[ranks][:, :, None, :], shape + (3,)).reshape(-1, 3),
                  np.broadcast_to(line[ranks][:, :, None], shape).reshape(-1),
                  np.broadcast_to(eyes[ranks][:, :, None], shape).reshape(-1),
                  np.broadcast_to(yaw[fi, ranks][:, :, None], shape).reshape(-1))


def background_frame(scene: Scene, t: int) -> np.ndarray:
    """The world texture seen through the camera at frame ``t``, ``(H, W, 3)`` uint8."""
    # Nearest-neighbour sampling: Pillow's bilinear affine costs ~15x more, and noise plus H.264
    # smooth the edges anyway.
    view = scene.texture_image().transform((scene.width, scene.height), Image.AFFINE,
                                           scene.camera.affine_from_image(t), resample=Image.NEAREST)
    return np.asarray(view)


def depth_ranks(scene: Scene, frames: np.ndarray) -> np.ndarray:
    """``(F, n_persons)`` person slots far to near per frame (a lower sole line is nearer)."""
    foot = np.stack([p.foot_y[frames] for p in scene.persons], axis=1)
    slots = np.broadcast_to(np.arange(len(scene.persons)), foot.shape)
    return np.lexsort((slots, foot), axis=1) if foot.size else np.zeros(foot.shape, int)


def render_frames(scene: Scene, frames: Sequence[int]) -> list[RenderedFrame]:
    """Render the given frames (one vectorised pass for all of them)."""
    frames = np.asarray(frames, dtype=np.int64)
    f, h, w = len(frames), scene.height, scene.width
    images = np.stack([background_frame(scene, int(t)) for t in frames]).astype(np.float32)
    labels = np.zeros((f, h, w), np.uint8)
    drawings: list[list[PersonDrawing]] = [[] for _ in range(f)]
    if scene.persons:
        per_person = [_person_prims(scene, p, slot, frames) for slot, p in enumerate(scene.persons)]
        ranks = depth_ranks(scene, frames)                            # (F, n)
        k = per_person[0][0].a.shape[1]
        a = np.stack([pp[0].a for pp in per_person], axis=1)        # (F, n, K, 2)
        b = np.stack([pp[0].b for pp in per_person], axis=1)
        r0 = np.stack([pp[0].r0 for pp in per_person], axis=1)
        r1 = np.stack([pp[0].r1 for pp in per_person], axis=1)
        colour = np.stack([pp[0].colour for pp in per_person])      # (n, K, 3)
        label = np.stack([pp[0].label for pp in per_person])        # (n, K)
        fi = np.arange(f)[:, None]
        a, b, r0, r1 = a[fi, ranks], b[fi, ranks], r0[fi, ranks], r1[fi, ranks]
        colour_m, label_m = colour[ranks], label[ranks]              # (F, n, K, ...)
        frame_m = np.broadcast_to(np.arange(f)[:, None, None], r0.shape)
        heads = _head_styles(scene, frames, ranks, k)
        _FlatRaster(f, w, h).draw(images, labels, frame_m.reshape(-1), a.reshape(-1, 2), b.reshape(-1, 2),
                                  r0.reshape(-1), r1.reshape(-1), colour_m.reshape(-1, 3), label_m.reshape(-1),
                                  scene.light, scene.ambient, heads)
        for slot, (prims, kp, area) in enumerate(per_person):
            lo = np.minimum(prims.a, prims.b) - np.maximum(prims.r0, prims.r1)[..., None] - 1
            hi = np.maximum(prims.a, prims.b) + np.maximum(prims.r0, prims.r1)[..., None] + 2
            lo, hi = lo.min(axis=1), hi.max(axis=1)
            for i in range(f):
                win = (int(max(lo[i, 0], 0)), int(max(lo[i, 1], 0)), int(min(max(hi[i, 0], 0), w)),
                       int(min(max(hi[i, 1], 0), h)))
                drawings[i].append(PersonDrawing(slot, kp[i], win, area[i]))
    cam = scene.camera
    out = []
    for i, t in enumerate(frames):
        image = images[i]
        for occ in scene.occluders:
            _draw_occluder(image, labels[i], occ, cam.to_image(occ.centre[t], t), cam.zoom[t], cam.roll[t])
        if scene.noise is not None:
            oy, ox = scene.noise_offsets[t]
            image += scene.noise[oy:oy + h, ox:ox + w]
        np.clip(image, 0, 255, out=image)
        out.append(RenderedFrame(int(t), image.astype(np.uint8), labels[i], drawings[i]))
    return out


def render_video(scene: Scene, chunk: int = CHUNK_FRAMES) -> Iterator[RenderedFrame]:
    """All frames of a scene in order, rendered ``chunk`` frames at a time."""
    for start in range(0, scene.n_frames, chunk):
        yield from render_frames(scene, range(start, min(start + chunk, scene.n_frames)))


def render_frame(scene: Scene, t: int) -> RenderedFrame:
    return render_frames(scene, [t])[0]
