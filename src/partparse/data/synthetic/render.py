"""Render scene frames: background through the camera, people as shaded capsules, occluders, noise.

Frames are RGBL ``uint8`` canvases: red, green, blue and the label map in one 4-byte word per pixel,
so that drawing scatters one word per pixel and colour and label cannot disagree. Per video, everything
that does not change per frame is prepared once (:class:`_VideoRenderer`): every person's capsules for
all frames in painter's order, occluder sprites, the texture (label 0) and the sensor noise as
saturating ``uint8`` offsets. Chunks of frames are then drawn in one vectorised pass
(:func:`partparse.data.synthetic.raster.draw_capsules`). Painter's order: people far to near (by their
sole line), each person legs -> hip -> torso -> neck -> head -> arms; occluders come last.

The label map says which capsule owns each pixel (:func:`person_label`; 255 = occluder, 0 =
background): annotation reads visibility from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

import numpy as np
from PIL import Image

from partparse.data.synthetic.occluders import OccluderSprite
from partparse.data.synthetic.raster import Capsules, HeadStyle, draw_capsules
from partparse.data.synthetic.scene import Person, Scene
from partparse.data.synthetic.skeleton import PARAM_INDEX
from partparse.data.vocabulary import BODY_PARTS

#: Local labels of one person: the torso (and neck) then the 10 annotated parts in BODY_PARTS order.
LOCAL_LABELS: tuple[str, ...] = ("torso",) + BODY_PARTS
LABELS_PER_PERSON = len(LOCAL_LABELS)
OCCLUDER_LABEL = 255
_LOCAL = {name: i for i, name in enumerate(LOCAL_LABELS)}
#: Index of the head among a person's capsules (legs 6, hip, torso, neck, then the head).
_HEAD_CAPSULE = 9
#: Frames rendered per vectorised pass (bounds the memory of the per-pixel arrays).
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
    pixels: np.ndarray                        # (H, W, 4) uint8 RGBL: colour and label map
    people: list[PersonDrawing]               # slot order

    @property
    def image(self) -> np.ndarray:
        """The RGB image ``(H, W, 3)`` uint8 (a view of :attr:`pixels`)."""
        return self.pixels[..., :3]

    @property
    def labels(self) -> np.ndarray:
        """The label map ``(H, W)`` uint8 (a view of :attr:`pixels`)."""
        return self.pixels[..., 3]


@dataclass
class _Prims:
    """Capsules of one person over F frames: ``a``/``b`` ``(F, K, 2)`` image px, radii ``(F, K)``,
    ``colour`` ``(K, 3)``, ``label`` ``(K,)``."""

    a: np.ndarray
    b: np.ndarray
    r0: np.ndarray
    r1: np.ndarray
    colour: np.ndarray
    label: np.ndarray


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
        caps += [(kp[:, 11 + si], kp[:, 13 + si], shape.r_thigh * one, shape.r_thigh * 0.85 * one,
                  app.pants, f"{side}_leg"),
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
        caps += [(kp[:, 5 + si], kp[:, 7 + si], shape.r_upper_arm * one, shape.r_upper_arm * 0.9 * one,
                  app.shirt, f"{side}_arm"),
                 (kp[:, 7 + si], kp[:, 9 + si], shape.r_forearm * one, shape.r_forearm * 0.85 * one,
                  app.shirt if app.long_sleeves else app.skin, f"{side}_arm"),
                 (kp[:, 9 + si], hand[:, si], r_hand, r_hand * (1.0 - 0.3 * (1 - fist)), app.skin, f"{side}_hand")]
    a = np.stack([c[0] for c in caps], axis=1)
    b = np.stack([c[1] for c in caps], axis=1)
    r0 = np.stack([c[2] for c in caps], axis=1) * scale[:, None]
    r1 = np.stack([c[3] for c in caps], axis=1) * scale[:, None]
    locals_ = np.array([_LOCAL[c[5]] for c in caps])
    prims = _Prims(a, b, r0, r1, np.stack([c[4] for c in caps]).astype(np.float32),
                   (1 + slot * LABELS_PER_PERSON + locals_).astype(np.uint8))
    length = np.hypot(*(b - a).transpose(2, 0, 1))
    cap_area = np.pi * (r0 + r1) ** 2 / 4 + (r0 + r1) * length
    area = np.zeros((len(frames), LABELS_PER_PERSON))
    np.add.at(area.T, locals_, cap_area.T)
    return prims, kp, area


def _head_styles(scene: Scene, frames: np.ndarray, ranks: np.ndarray, k: int) -> HeadStyle:
    """Hair and eyes for the capsules ordered ``(F, person rank, K)``, as ``(F, n * K, ...)`` arrays."""
    n = len(scene.persons)
    head_k = np.zeros(k, bool)
    head_k[_HEAD_CAPSULE] = True
    hair = np.stack([p.appearance.hair for p in scene.persons])                       # (n, 3)
    line = np.array([p.appearance.hair_line if p.facing > 0 else 0.7 for p in scene.persons])
    eyes = np.array([p.facing > 0 for p in scene.persons])
    yaw = np.stack([p.schedule.pose[frames, PARAM_INDEX["head_yaw"]] for p in scene.persons], axis=1)  # (F, n)
    shape = (len(frames), n, k)
    fi = np.arange(len(frames))[:, None]
    flat = (len(frames), n * k)
    return HeadStyle(np.broadcast_to(head_k, shape).reshape(flat),
                     np.broadcast_to(hair[ranks][:, :, None, :], shape + (3,)).reshape(flat + (3,)),
                     np.broadcast_to(line[ranks][:, :, None], shape).reshape(flat),
                     np.broadcast_to(eyes[ranks][:, :, None], shape).reshape(flat),
                     np.broadcast_to(yaw[fi, ranks][:, :, None], shape).reshape(flat))


def _chunk(caps: Capsules, lo: int, hi: int) -> Capsules:
    """Frames ``lo:hi`` of capsules held as ``(F, P, ...)`` arrays, flattened to ``((hi - lo) P, ...)``
    with frame indices counted from ``lo``."""
    def cut(values: np.ndarray) -> np.ndarray:
        return values[lo:hi].reshape((-1,) + values.shape[2:])

    heads = HeadStyle(*(cut(getattr(caps.heads, f.name)) for f in fields(HeadStyle))) if caps.heads else None
    return Capsules(cut(caps.frame) - lo, cut(caps.a), cut(caps.b), cut(caps.r0), cut(caps.r1), cut(caps.colour),
                    cut(caps.label), heads)


def depth_ranks(scene: Scene, frames: np.ndarray) -> np.ndarray:
    """``(F, n_persons)`` person slots far to near per frame (a lower sole line is nearer)."""
    foot = np.stack([p.foot_y[frames] for p in scene.persons], axis=1)
    slots = np.broadcast_to(np.arange(len(scene.persons)), foot.shape)
    return np.lexsort((slots, foot), axis=1) if foot.size else np.zeros(foot.shape, int)


def _person_windows(prims: _Prims, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Per frame, the pixel window ``(x0, y0, x1, y1)`` holding all capsules of one person."""
    reach = np.maximum(prims.r0, prims.r1)[..., None]
    lo = (np.minimum(prims.a, prims.b) - reach - 1).min(axis=1)
    hi = (np.maximum(prims.a, prims.b) + reach + 2).max(axis=1)
    lo = np.maximum(lo, 0).astype(int)
    hi = np.minimum(np.maximum(hi, 0), [width, height]).astype(int)
    return [(int(a[0]), int(a[1]), int(b[0]), int(b[1])) for a, b in zip(lo, hi, strict=True)]


class _SensorNoise:
    """Gaussian sensor noise as saturating ``uint8`` additions: the scene's float noise bank rounded to
    integers, split into its positive and negative parts; frames take shifted crops of it."""

    def __init__(self, scene: Scene):
        bank = np.rint(scene.noise).astype(np.int16)
        self.offsets, self.size = scene.noise_offsets, (scene.height, scene.width)
        self.up = np.zeros(bank.shape[:2] + (4,), np.uint8)
        self.down = np.zeros_like(self.up)
        self.up[..., :3] = np.clip(bank, 0, 255)
        self.down[..., :3] = np.clip(-bank, 0, 255)

    def apply(self, pixels: np.ndarray, t: int) -> None:
        """Add frame ``t``'s noise to the colour of ``pixels`` ``(H, W, 4)`` uint8 RGBL in place, clipping
        to 0..255 (the label byte gets zero noise)."""
        (oy, ox), (h, w) = self.offsets[t], self.size
        up, down = self.up[oy:oy + h, ox:ox + w], self.down[oy:oy + h, ox:ox + w]
        room = np.minimum(pixels, down)                    # pixels - min(pixels, down) >= 0
        pixels -= room
        np.subtract(255, pixels, out=room)                 # pixels + min(255 - pixels, up) <= 255
        np.minimum(room, up, out=room)
        pixels += room


class _VideoRenderer:
    """Renders frames ``frames`` of ``scene``; everything that does not change per frame is made once."""

    def __init__(self, scene: Scene, frames: Sequence[int]):
        self.scene = scene
        self.frames = np.asarray(frames, dtype=np.int64)
        f, w, h = len(self.frames), scene.width, scene.height
        self.texture = scene.texture_image().convert("RGBA")
        self.texture.putalpha(0)                                          # label 0 = background
        self.sprites = [OccluderSprite(occ, OCCLUDER_LABEL) for occ in scene.occluders]
        self.noise = _SensorNoise(scene) if scene.noise is not None else None
        self.drawings: list[list[PersonDrawing]] = [[] for _ in range(f)]
        self.capsules: Capsules | None = None                             # arrays (F, n * K, ...)
        self.scratch: np.ndarray | None = None                            # z-buffer reused between chunks
        if not scene.persons:
            return
        per_person = [_person_prims(scene, p, slot, self.frames) for slot, p in enumerate(scene.persons)]
        for slot, (prims, kp, area) in enumerate(per_person):
            for i, win in enumerate(_person_windows(prims, w, h)):
                self.drawings[i].append(PersonDrawing(slot, kp[i], win, area[i]))
        ranks = depth_ranks(scene, self.frames)                           # (F, n): painter's order
        fi = np.arange(f)[:, None]

        moving = {name: np.stack([getattr(pp[0], name) for pp in per_person], axis=1)[fi, ranks]
                  for name in ("a", "b", "r0", "r1")}                    # (F, n, K, ...)
        fixed = {name: np.stack([getattr(pp[0], name) for pp in per_person])[ranks]
                 for name in ("colour", "label")}                         # (n, K, ...) -> (F, n, K, ...)
        flat = {name: v.reshape((f, -1) + v.shape[3:]) for name, v in {**moving, **fixed}.items()}
        k = per_person[0][0].a.shape[1]
        self.capsules = Capsules(np.repeat(np.arange(f), len(scene.persons) * k).reshape(f, -1), **flat,
                                 heads=_head_styles(scene, self.frames, ranks, k))

    def render(self, lo: int, hi: int) -> list[RenderedFrame]:
        """Frames ``self.frames[lo:hi]``, drawn in one vectorised pass."""
        scene, cam = self.scene, self.scene.camera
        frames = self.frames[lo:hi]
        pixels = np.empty((len(frames), scene.height, scene.width, 4), np.uint8)
        for i, t in enumerate(frames):
            # Nearest-neighbour sampling: Pillow's bilinear affine costs ~15x more, and noise plus
            # H.264 smooth the edges anyway.
            view = self.texture.transform((scene.width, scene.height), Image.AFFINE, cam.affine_from_image(int(t)),
                                          resample=Image.NEAREST)
            pixels[i] = np.asarray(view)
        if self.capsules is not None:
            if self.scratch is None or self.scratch.size < pixels.size // 4:
                self.scratch = np.empty(pixels.size // 4, np.dtype("<i8"))
            draw_capsules(pixels, _chunk(self.capsules, lo, hi), scene.light, scene.ambient, self.scratch)
        out = []
        for i, t in enumerate(frames):
            for sprite in self.sprites:
                sprite.draw(pixels[i], cam, int(t))
            if self.noise is not None:
                self.noise.apply(pixels[i], int(t))
            out.append(RenderedFrame(int(t), pixels[i], self.drawings[lo + i]))
        return out


def render_frames(scene: Scene, frames: Sequence[int]) -> list[RenderedFrame]:
    """Render the given frames (one vectorised pass for all of them)."""
    frames = list(frames)
    return _VideoRenderer(scene, frames).render(0, len(frames))


def render_video(scene: Scene, chunk: int = CHUNK_FRAMES) -> Iterator[RenderedFrame]:
    """All frames of a scene in order, rendered ``chunk`` frames at a time."""
    renderer = _VideoRenderer(scene, range(scene.n_frames))
    for start in range(0, scene.n_frames, chunk):
        yield from renderer.render(start, min(start + chunk, scene.n_frames))


def render_frame(scene: Scene, t: int) -> RenderedFrame:
    return render_frames(scene, [t])[0]
