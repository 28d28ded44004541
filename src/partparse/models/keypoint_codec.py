"""Top-down keypoint coding: person crops, Gaussian heatmap targets, heatmap decoding, flip test.

Coordinate frames (all in pixels, x to the right, y down; a pixel index is its centre):
- *image*: the frame the person boxes live in;
- *crop*: the model input, ``input_size = (H, W)`` (256x192), obtained by an axis-aligned affine map
  ``x_image = offset + scale * x_crop`` (same scale on both axes, so no distortion);
- *heatmap*: ``x_heatmap = x_crop / stride`` with ``stride = W / heatmap_W`` (4).
These are mmpose's (non-UDP) conventions: a box is widened or heightened to the input aspect ratio,
then enlarged by ``padding = 1.25`` around its centre (``TopDownAffine``), and a decoded heatmap
position maps back as ``center - size / 2 + x_heatmap * size / heatmap_W`` (``transform_preds``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import roi_align

COCO_FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))


def flip_permutation(num_keypoints: int, flip_pairs=COCO_FLIP_PAIRS) -> list[int]:
    """Channel order of a horizontally flipped heatmap stack: left and right joints swap."""
    perm = list(range(num_keypoints))
    for a, b in flip_pairs:
        perm[a], perm[b] = b, a
    return perm


@dataclass
class CropTransform:
    """Per-person map ``x_image = offset + scale * x_crop``: ``scale (N,)``, ``offset (N, 2)`` (x, y)."""

    scale: Tensor
    offset: Tensor

    def to_image(self, points: Tensor) -> Tensor:
        """``(N, K, 2)`` crop coordinates -> image coordinates."""
        return points * self.scale[:, None, None] + self.offset[:, None, :]

    def to_crop(self, points: Tensor) -> Tensor:
        """``(N, K, 2)`` image coordinates -> crop coordinates."""
        return (points - self.offset[:, None, :]) / self.scale[:, None, None]


def box_crop_transform(boxes: Tensor, input_size: tuple[int, int], padding: float = 1.25) -> CropTransform:
    """Crop transform of ``boxes (N, 4)`` xyxy: the box grown to the input aspect ratio, times ``padding``."""
    boxes = boxes.float()
    in_h, in_w = input_size
    center = (boxes[:, :2] + boxes[:, 2:]) / 2
    w = (boxes[:, 2] - boxes[:, 0]).clamp(min=1.0)
    h = (boxes[:, 3] - boxes[:, 1]).clamp(min=1.0)
    src_w = torch.maximum(w, h * in_w / in_h) * padding  # width of the crop region in image pixels
    scale = src_w / in_w
    offset = center - torch.stack([src_w, scale * in_h], dim=1) / 2
    return CropTransform(scale, offset)


def crop_boxes(image: Tensor, boxes: Tensor, input_size: tuple[int, int] = (256, 192),
               padding: float = 1.25) -> tuple[Tensor, CropTransform]:
    """Bilinear crops ``(N, C, H, W)`` of ``image (C, H_img, W_img)`` around ``boxes (N, 4)``, one call.

    Crop pixel ``(i, j)`` samples the image at ``offset + scale * (j, i)``, exactly as mmpose's
    ``warpAffine``; ``roi_align`` with one sample per bin does that for all persons at once (outside
    the image it reads zeros, except within one pixel of the border where it repeats the edge).
    """
    if image.ndim != 3:
        raise ValueError(f"image must be (C, H, W), got shape {tuple(image.shape)}")
    transform = box_crop_transform(boxes, input_size, padding)
    in_h, in_w = input_size
    s = transform.scale
    x1 = transform.offset[:, 0] - 0.5 * s  # roi_align samples bin centres: shift by half a bin
    y1 = transform.offset[:, 1] - 0.5 * s
    rois = torch.stack([torch.zeros_like(s), x1, y1, x1 + in_w * s, y1 + in_h * s], dim=1)
    crops = roi_align(image[None].float(), rois.to(image.device), output_size=input_size, sampling_ratio=1)
    return crops, transform


@dataclass(frozen=True)
class HeatmapCodec:
    """Keypoints in crop pixels <-> Gaussian heatmaps ``(N, K, h, w)``.

    ``quantize_center``: put the Gaussian peak on the nearest heatmap pixel (mmpose's default
    ``MSRAHeatmap``); ``False`` keeps the sub-pixel centre (DARK's unbiased encoding). ``decode``:
    ``"dark"`` (Taylor expansion of the log of the blurred heatmap, Zhang et al. CVPR 2020) or
    ``"quarter"`` (argmax moved a quarter pixel toward the higher neighbour, as the HRNet paper).
    """

    input_size: tuple[int, int] = (256, 192)
    heatmap_size: tuple[int, int] = (64, 48)
    sigma: float = 2.0
    quantize_center: bool = False
    decode_mode: str = "dark"
    blur_kernel: int = 11

    @property
    def stride(self) -> float:
        return self.input_size[1] / self.heatmap_size[1]

    def encode(self, keypoints: Tensor) -> tuple[Tensor, Tensor]:
        """``keypoints (N, K, 3)`` = crop ``(x, y, visibility)`` -> heatmaps ``(N, K, h, w)``, weights ``(N, K)``.

        A joint weighs 1 when visible (``v > 0``) and its Gaussian overlaps the heatmap (within 3 sigma),
        else 0 with an all-zero heatmap: it is then neither pulled up nor down by the loss.
        """
        h, w = self.heatmap_size
        mu = keypoints[..., :2].float() / self.stride
        if self.quantize_center:
            mu = torch.floor(mu + 0.5)
        reach = 3 * self.sigma
        inside = ((mu[..., 0] + reach >= 0) & (mu[..., 0] - reach < w)
                  & (mu[..., 1] + reach >= 0) & (mu[..., 1] - reach < h))
        weights = ((keypoints[..., 2] > 0) & inside).float()
        xs = torch.arange(w, dtype=torch.float32, device=keypoints.device)
        ys = torch.arange(h, dtype=torch.float32, device=keypoints.device)
        gx = torch.exp(-((xs - mu[..., 0, None]) ** 2) / (2 * self.sigma ** 2))
        gy = torch.exp(-((ys - mu[..., 1, None]) ** 2) / (2 * self.sigma ** 2))
        heatmaps = gy[..., :, None] * gx[..., None, :] * weights[..., None, None]
        return heatmaps, weights

    def decode(self, heatmaps: Tensor) -> tuple[Tensor, Tensor]:
        """``heatmaps (N, K, h, w)`` -> crop ``keypoints (N, K, 2)`` and ``scores (N, K)`` (heatmap maxima).

        A heatmap with no positive value has no keypoint: as mmpose's ``get_heatmap_maximum`` does, its
        location is heatmap pixel ``(-1, -1)`` (so ``-stride`` in crop pixels, outside the crop), it is not
        refined, and its score is its maximum (``<= 0``), below every keypoint-score threshold.
        """
        if self.decode_mode not in ("dark", "quarter"):
            raise ValueError(f"decode_mode must be 'dark' or 'quarter', got {self.decode_mode!r}")
        heatmaps = heatmaps.detach().float()
        n, k, h, w = heatmaps.shape
        scores, flat = heatmaps.reshape(n, k, -1).max(dim=-1)
        px, py = flat % w, torch.div(flat, w, rounding_mode="floor")
        if self.decode_mode == "dark":
            offset = _dark_offset(_blur(heatmaps, self.blur_kernel), px, py)
        else:
            offset = _quarter_offset(heatmaps, px, py)
        coords = torch.stack([px, py], dim=-1).float() + offset
        coords = torch.where((scores > 0)[..., None], coords, torch.full_like(coords, -1.0))
        return coords * self.stride, scores


def _gather(maps: Tensor, px: Tensor, py: Tensor, dx: int, dy: int, pad: int) -> Tensor:
    """Values of ``maps`` (padded by ``pad``) at ``(px + dx, py + dy)`` for every (N, K)."""
    n, k, h, w = maps.shape
    idx = (py + pad + dy) * w + (px + pad + dx)
    return maps.reshape(n, k, -1).gather(-1, idx[..., None]).squeeze(-1)


def _quarter_offset(heatmaps: Tensor, px: Tensor, py: Tensor) -> Tensor:
    """A quarter pixel toward the higher neighbour, each axis on its own, under mmpose 1.x's
    ``refine_keypoints`` conditions exactly: x moves when ``1 < x < w - 1`` and ``y > 0``, y moves when
    ``1 < y < h - 1`` and ``x > 0`` (so column/row 1 never moves along its own axis, and row/column 0
    never moves along the other one: mmpose's asymmetric bounds, kept for identical keypoints)."""
    h, w = heatmaps.shape[-2:]
    p = F.pad(heatmaps, (1, 1, 1, 1), mode="replicate")
    dx = _gather(p, px, py, 1, 0, 1) - _gather(p, px, py, -1, 0, 1)
    dy = _gather(p, px, py, 0, 1, 1) - _gather(p, px, py, 0, -1, 1)
    move_x = (px > 1) & (px < w - 1) & (py > 0)
    move_y = (py > 1) & (py < h - 1) & (px > 0)
    return 0.25 * torch.stack([dx.sign() * move_x, dy.sign() * move_y], dim=-1)


def _blur(heatmaps: Tensor, kernel: int) -> Tensor:
    """Gaussian blur with zero padding, each map rescaled to keep its maximum (as mmpose's DARK)."""
    sigma = 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8  # OpenCV's sigma for a given kernel size
    x = torch.arange(kernel, dtype=heatmaps.dtype, device=heatmaps.device) - (kernel - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n * k, 1, h, w)
    out = F.conv2d(F.conv2d(flat, g.view(1, 1, 1, -1), padding=(0, kernel // 2)), g.view(1, 1, -1, 1),
                   padding=(kernel // 2, 0)).reshape(n, k, h, w)
    peak = heatmaps.amax(dim=(-2, -1), keepdim=True)
    return out * peak / out.amax(dim=(-2, -1), keepdim=True).clamp(min=1e-12)


def _dark_offset(heatmaps: Tensor, px: Tensor, py: Tensor) -> Tensor:
    """Newton step ``-H^-1 g`` on ``log(heatmap)`` at the argmax; zero near borders or if H is singular."""
    h, w = heatmaps.shape[-2:]
    lp = F.pad(heatmaps.clamp(min=1e-10).log(), (2, 2, 2, 2), mode="replicate")

    def at(dx: int, dy: int) -> Tensor:
        return _gather(lp, px, py, dx, dy, 2)

    c = at(0, 0)
    gx = 0.5 * (at(1, 0) - at(-1, 0))
    gy = 0.5 * (at(0, 1) - at(0, -1))
    hxx = 0.25 * (at(2, 0) - 2 * c + at(-2, 0))
    hyy = 0.25 * (at(0, 2) - 2 * c + at(0, -2))
    hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = hxx * hyy - hxy ** 2
    ok = (px > 1) & (px < w - 2) & (py > 1) & (py < h - 2) & (det.abs() > 1e-12)
    safe = torch.where(ok, det, torch.ones_like(det))
    ox = -(hyy * gx - hxy * gy) / safe
    oy = -(hxx * gy - hxy * gx) / safe
    return torch.stack([ox, oy], dim=-1) * ok[..., None]


def flip_back(heatmaps: Tensor, flip_pairs=COCO_FLIP_PAIRS, shift: bool = True) -> Tensor:
    """Heatmaps predicted on a horizontally flipped crop, in the unflipped crop's frame.

    Mirrors the maps and swaps left/right joints. ``shift``: move one heatmap pixel right, as mmpose
    (``shift_heatmap=True``): mirroring pixel indices (``x -> w - 1 - x``) is off by ``(stride - 1) /
    stride`` heatmap pixels from mirroring the crop, and one pixel is the nearest whole correction.
    """
    out = heatmaps.flip(-1)[:, flip_permutation(heatmaps.shape[1], flip_pairs)]
    if shift:
        out = torch.cat([out[..., :1], out[..., :-1]], dim=-1)
    return out


def keypoint_mse_loss(pred: Tensor, target: Tensor, weights: Tensor) -> Tensor:
    """mmpose's ``JointsMSELoss(use_target_weight=True)``: MSE of ``(N, K, h, w)`` maps, joints weighted."""
    w = weights[..., None, None]
    return F.mse_loss(pred * w, target * w)
