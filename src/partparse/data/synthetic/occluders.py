"""Occluders drawn as sprites: a flat-shaded (lit from above), optionally striped rectangle or ellipse.

An occluder's look is fixed in world coordinates (axis-aligned there, shading and stripes in world
pixels), so it is drawn once per video into an RGBA sprite at world resolution; every frame maps the
sprite through the camera with a nearest-neighbour affine warp (Pillow, like the background) instead of
re-evaluating the shape per pixel and frame.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from partparse.data.synthetic.scene import Camera, Occluder

#: Transparent border (sprite pixels) so that nearest sampling outside the shape finds alpha 0.
_PAD = 1


class OccluderSprite:
    """One occluder as an RGBL sprite ``(ceil(2 half_h) + 2, ceil(2 half_w) + 2)``: colour and ``label``
    (non-zero) inside, zero outside.

    Sprite pixel ``(j, i)`` covers world offsets ``[i - sw / 2, i + 1 - sw / 2)`` (x) and likewise in y
    from the occluder's centre, ``(sw, sh)`` the sprite size.
    """

    def __init__(self, occ: Occluder, label: int):
        if not 0 < label < 256:
            raise ValueError(f"occluder label must be 1..255, got {label}")
        self.occ = occ
        sw, sh = math.ceil(2 * occ.half_w) + 2 * _PAD, math.ceil(2 * occ.half_h) + 2 * _PAD
        self.size = (sw, sh)
        wx = np.arange(sw, dtype=np.float32)[None, :] + 0.5 - sw / 2      # world offsets of pixel centres
        wy = np.arange(sh, dtype=np.float32)[:, None] + 0.5 - sh / 2
        if occ.kind == "rect":
            inside = (np.abs(wx) <= occ.half_w) & (np.abs(wy) <= occ.half_h)
        else:
            inside = (wx / occ.half_w) ** 2 + (wy / occ.half_h) ** 2 <= 1.0
        shade = 0.8 - 0.2 * wy / max(occ.half_h, 1.0)                      # lit from above
        if occ.stripe:
            shade = shade * np.where(np.sin(wx / occ.stripe * np.pi) > 0, 1.0, 0.8)
        rgba = np.zeros((sh, sw, 4), np.uint8)
        rgba[..., :3] = np.clip(np.asarray(occ.colour, np.float32) * shade[..., None], 0, 255)
        rgba[..., 3] = label
        rgba[~inside] = 0
        self.image = Image.fromarray(rgba, "RGBA")

    def draw(self, canvas: np.ndarray, camera: Camera, t: int) -> None:
        """Paste the sprite as seen at frame ``t`` over ``canvas`` ``(H, W, 4)`` uint8 RGBL (colour and
        label map) where it covers (pixel centres at integer coordinates)."""
        h, w = canvas.shape[:2]
        occ = self.occ
        zoom, roll = float(camera.zoom[t]), float(camera.roll[t])
        cx, cy = camera.to_image(occ.centre[t], t)
        hw, hh = occ.half_w * zoom, occ.half_h * zoom
        r = math.hypot(hw, hh) if occ.kind == "rect" else max(hw, hh)
        xa, ya = max(int(cx - r), 0), max(int(cy - r), 0)
        xb, yb = min(int(cx + r) + 2, w), min(int(cy + r) + 2, h)
        if xa >= xb or ya >= yb:
            return
        # Output pixel (X, Y) (Pillow samples at X + 0.5) is image pixel p = (xa + X, ya + Y); its world
        # offset from the centre is R(-roll) (p - c) / zoom, the sprite coordinate that plus half the size.
        cs, sn = math.cos(roll) / zoom, math.sin(roll) / zoom
        ox, oy = xa - 0.5 - cx, ya - 0.5 - cy
        sw, sh = self.size
        affine = (cs, sn, cs * ox + sn * oy + sw / 2, -sn, cs, -sn * ox + cs * oy + sh / 2)
        view = np.asarray(self.image.transform((xb - xa, yb - ya), Image.AFFINE, affine, resample=Image.NEAREST))
        np.copyto(canvas[ya:yb, xa:xb].view(np.uint32)[..., 0], view.view(np.uint32)[..., 0],
                  where=view[..., 3] != 0)
