"""A synthetic scene: world texture, moving camera, articulated people and occluders, over T frames.

World coordinates are pixels of the background texture (x right, y down). The camera maps world points
to the image by ``zoom * R(roll) (p - centre) + (W/2, H/2)``; people and occluders live in the world, so
pans, zooms and shake move everything together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from partparse.data.synthetic.actions import Schedule, sample_schedule
from partparse.data.synthetic.background import CLOTHING, HAIR, SKIN, make_texture, noise_bank, pick, scene_colour
from partparse.data.synthetic.skeleton import BodyPoints, BodyShape, forward_kinematics

#: How much larger than a frame the world texture is (room for pans, zoom-outs and shake).
WORLD_MARGIN = (1.6, 1.4)


@dataclass(frozen=True)
class Appearance:
    """Colours (float32 RGB) and clothing cut of one person."""

    skin: np.ndarray
    shirt: np.ndarray
    pants: np.ndarray
    shoes: np.ndarray
    hair: np.ndarray
    long_sleeves: bool
    shorts: bool
    hair_line: float          # hair covers the head above this normalised height (-1 top .. 1 chin)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Appearance:
        return cls(skin=pick(rng, SKIN, 8), shirt=pick(rng, CLOTHING), pants=pick(rng, CLOTHING),
                   shoes=pick(rng, CLOTHING, 20) * 0.6, hair=pick(rng, HAIR, 10),
                   long_sleeves=bool(rng.random() < 0.5), shorts=bool(rng.random() < 0.3),
                   hair_line=float(rng.uniform(-0.55, -0.2)))


@dataclass
class Person:
    """One person over the video. ``x``/``foot_y``/``height`` are ``(T,)`` world pixels: the pelvis's
    ground position, the sole line and the size of one body unit; ``points`` are body units."""

    schedule: Schedule
    shape: BodyShape
    appearance: Appearance
    facing: int
    points: BodyPoints
    x: np.ndarray
    foot_y: np.ndarray
    height: np.ndarray

    @classmethod
    def build(cls, schedule: Schedule, shape: BodyShape, appearance: Appearance, facing: int,
              x0: float, foot_y: np.ndarray, height: np.ndarray) -> Person:
        """Place a schedule in the world: ``root_x`` (body heights) moves the person from ``x0``."""
        points = forward_kinematics(schedule.pose, shape, facing)
        x = x0 + points.pelvis[:, 0] * height
        return cls(schedule, shape, appearance, facing, points, x, np.asarray(foot_y, float), np.asarray(height, float))

    def world(self, body_xy: np.ndarray, t) -> np.ndarray:
        """Body-unit points in world pixels: ``body_xy`` ``(K, 2)`` with an int ``t``, or ``(F, K, 2)``
        with ``t`` an array of F frames."""
        t = np.asarray(t)
        h = self.height[t][..., None, None]
        origin = np.stack([self.x[t] - self.points.pelvis[t, 0] * self.height[t], self.foot_y[t]], axis=-1)
        return origin[..., None, :] + body_xy * h


@dataclass
class Occluder:
    """A foreground object drawn in front of everyone: ``kind`` 'rect' or 'ellipse', world ``centre``
    ``(T, 2)``, half sizes in world pixels, a colour and a stripe period (0 = plain)."""

    kind: str
    centre: np.ndarray
    half_w: float
    half_h: float
    colour: np.ndarray
    stripe: float = 0.0


@dataclass
class Camera:
    """Per-frame ``centre`` ``(T, 2)`` (world px), ``zoom`` ``(T,)`` and ``roll`` ``(T,)`` (radians)."""

    centre: np.ndarray
    zoom: np.ndarray
    roll: np.ndarray
    width: int
    height: int

    def to_image(self, points: np.ndarray, t) -> np.ndarray:
        """World points to image pixels: ``(..., 2)`` at an int frame ``t``, or ``(F, ..., 2)`` with
        ``t`` an array of F frames."""
        t = np.asarray(t)
        expand = (slice(None),) * t.ndim + (None,) * (points.ndim - 1 - t.ndim)
        c, s = np.cos(self.roll[t])[expand], np.sin(self.roll[t])[expand]
        d = (points - self.centre[t][expand]) * self.zoom[t][expand + (None,)]
        return np.stack([c * d[..., 0] - s * d[..., 1] + self.width / 2,
                         s * d[..., 0] + c * d[..., 1] + self.height / 2], axis=-1)

    def affine_from_image(self, t: int) -> tuple[float, ...]:
        """PIL ``Image.AFFINE`` data mapping image pixels back to the world texture."""
        c, s, z = np.cos(self.roll[t]), np.sin(self.roll[t]), self.zoom[t]
        w2, h2 = self.width / 2, self.height / 2
        cx, cy = self.centre[t]
        return (c / z, s / z, cx - (c * w2 + s * h2) / z, -s / z, c / z, cy - (-s * w2 + c * h2) / z)


@dataclass
class Scene:
    """Everything needed to render frames ``0 .. n_frames - 1`` of one video."""

    width: int
    height: int
    n_frames: int
    texture: np.ndarray
    camera: Camera
    persons: list[Person]
    occluders: list[Occluder] = field(default_factory=list)
    noise: np.ndarray | None = None
    noise_offsets: np.ndarray | None = None     # (T, 2) ints
    light: np.ndarray = field(default_factory=lambda: np.array([-0.35, -0.45, 0.82]))
    ambient: float = 0.42
    _texture_image: Image.Image | None = field(default=None, repr=False)

    def texture_image(self) -> Image.Image:
        """The texture as a Pillow image (made once; the renderer samples it every frame)."""
        if self._texture_image is None:
            self._texture_image = Image.fromarray(self.texture)
        return self._texture_image


def _smooth_noise(rng: np.random.Generator, n: int, scale: float, width: int = 3) -> np.ndarray:
    x = rng.normal(0.0, 1.0, n + 2 * width)
    k = np.hanning(2 * width + 3)[1:-1]
    return np.convolve(x, k / k.sum(), mode="valid")[:n] * scale


def sample_camera(rng: np.random.Generator, width: int, height: int, n_frames: int, tex_w: int, tex_h: int) -> Camera:
    """Static, panning and/or zooming camera with shake and a little roll, kept inside the texture."""
    s = np.linspace(0.0, 1.0, n_frames)
    z0 = rng.uniform(0.9, 1.1)
    z1 = z0 * rng.uniform(0.8, 1.25) if rng.random() < 0.5 else z0
    zoom = z0 + (z1 - z0) * s
    pan = rng.uniform(-0.2, 0.2) * width if rng.random() < 0.5 else 0.0
    shake = rng.uniform(0.0, 2.5)
    centre = np.stack([tex_w / 2 + pan * (s - 0.5) + _smooth_noise(rng, n_frames, shake * 1.5),
                       tex_h / 2 + _smooth_noise(rng, n_frames, shake)], axis=-1)
    centre += rng.normal(0.0, shake * 0.3, centre.shape)
    half_w, half_h = width / (2 * zoom) * 1.05 + 2, height / (2 * zoom) * 1.05 + 2
    centre[:, 0] = np.clip(centre[:, 0], half_w + 1, tex_w - half_w - 1)
    centre[:, 1] = np.clip(centre[:, 1], half_h + 1, tex_h - half_h - 1)
    roll = np.radians(rng.uniform(0.0, 1.2)) * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * s * n_frames / 15
                                                       + rng.uniform(0, 2 * np.pi))
    return Camera(centre, zoom, roll, width, height)


#: Chance that a person does the video's shared variant of the action (a group exercising together).
SHARED_VARIANT = 0.65


def sample_person(rng: np.random.Generator, action: str, width: int, height: int, n_frames: int, fps: float,
                  view_centre: np.ndarray, variant_seed: int | None = None) -> Person:
    """One person doing ``action``: size, place (walkers may start outside and cross the view), scale
    change. ``variant_seed`` (shared by people of one video) picks the variant of the action."""
    variant_rng = np.random.default_rng(variant_seed) if variant_seed is not None else None
    schedule = sample_schedule(action, rng, n_frames, fps, variant_rng)
    shape, appearance = BodyShape.sample(rng), Appearance.sample(rng)
    facing = 1 if rng.random() < 0.8 else -1
    h0 = rng.uniform(0.35, 0.85) * height
    k = rng.uniform(-0.25, 0.35) if rng.random() < 0.3 else 0.0
    size = h0 * (1.0 + k * np.linspace(0.0, 1.0, n_frames))
    top = view_centre[1] - height / 2
    foot_y = top + height * rng.uniform(0.27, 0.33) + 0.85 * size
    drift = schedule.pose[-1, 0] - schedule.pose[0, 0]           # body heights walked in the video
    if abs(drift) > 0.3:                                          # walker: cross the view, maybe from outside
        x0 = view_centre[0] - np.sign(drift) * rng.uniform(0.2, 0.7) * width
    else:
        x0 = view_centre[0] + rng.uniform(-0.42, 0.42) * width
    return Person.build(schedule, shape, appearance, facing, x0, foot_y, size)


def sample_occluder(rng: np.random.Generator, person: Person, n_frames: int, width: int) -> Occluder:
    """A crate, wall, pole, sign or bush placed over part of ``person`` at some frame."""
    t = int(rng.integers(n_frames))
    h = person.height[t]
    kind = "ellipse" if rng.random() < 0.3 else "rect"
    half_w, half_h = rng.uniform(0.08, 0.3) * h, rng.uniform(0.08, 0.35) * h
    cx = person.x[t] + rng.uniform(-0.3, 0.3) * h
    where = rng.random()
    if where < 0.5:                                   # standing on the ground: covers feet and legs
        cy = person.foot_y[t] + rng.uniform(-0.1, 0.15) * h - half_h + 0.1 * h
    else:                                             # anywhere over the body
        cy = person.foot_y[t] - rng.uniform(0.1, 0.95) * h
    centre = np.tile([cx, cy], (n_frames, 1)).astype(float)
    if rng.random() < 0.25:                           # a passing object
        centre[:, 0] += rng.uniform(-0.3, 0.3) * width * (np.linspace(0, 1, n_frames) - t / max(n_frames - 1, 1))
    stripe = rng.uniform(4, 14) if rng.random() < 0.4 else 0.0
    return Occluder(kind, centre, half_w, half_h, np.array(scene_colour(rng), np.float32), stripe)


def sample_scene(rng: np.random.Generator, action: str, width: int, height: int, n_frames: int, fps: float,
                 max_people: int = 3) -> Scene:
    """A random scene for one video of ``action`` (all randomness from ``rng``)."""
    tex_w, tex_h = int(width * WORLD_MARGIN[0]), int(height * WORLD_MARGIN[1])
    texture = make_texture(rng, tex_w, tex_h)
    camera = sample_camera(rng, width, height, n_frames, tex_w, tex_h)
    counts = np.arange(1, max_people + 1)
    weights = np.array([0.5, 0.32, 0.18, 0.1, 0.05][:max_people] + [0.02] * max(0, max_people - 5))
    n_people = int(rng.choice(counts, p=weights / weights.sum()))
    shared = int(rng.integers(2**63 - 1))
    persons = [sample_person(rng, action, width, height, n_frames, fps, camera.centre[0],
                             shared if rng.random() < SHARED_VARIANT else None) for _ in range(n_people)]
    n_occ = int(rng.choice([0, 1, 2], p=[0.35, 0.45, 0.2]))
    occluders = [sample_occluder(rng, persons[int(rng.integers(n_people))], n_frames, width) for _ in range(n_occ)]
    noise = noise_bank(rng, width, height, rng.uniform(1.0, 4.0))
    offsets = rng.integers(0, 9, (n_frames, 2))
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.7, 0.1), 1.0])
    return Scene(width, height, n_frames, texture, camera, persons, occluders, noise, offsets,
                 light / np.linalg.norm(light), float(rng.uniform(0.35, 0.55)))
