"""Benchmark: CPU cost of the small SynTPS recipes' spatial models, training step and inference, against
torchvision's ResNet-50 forward on the same input in the same process.

For each recipe (YOLOF-R18 persons, YOLOF-R18 parts, small HRNet pose) the model is built as the recipe
says (untrained: speed does not depend on the weights) and timed on synthetic inputs of the recipe's sizes:
- ``train step``: forward + backward + optimiser step on one batch of ``train.batch_size`` items at the
  training resolution (what ``partparse train`` does per iteration, data loading excluded);
- ``infer``: a SynTPS frame (240x320, the detector resizes it itself) for the person detector, a median
  SynTPS person crop (180x83) for the part detector, a batch of 8 crops with the flip test for the pose
  model, reported per frame / crop.

    .venv/bin/python benchmarks/bench_spatial_train.py [--quick] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_time  # noqa: E402


def _detection_rows(recipe_path: Path, infer_size: tuple[int, int]):
    import torch

    from partparse.config import load_recipe
    from partparse.data.coco_detection import resize_scale
    from partparse.engine.detection_recipe import DetectionRecipe
    from partparse.engine.model_builders import build_detection_model
    from partparse.engine.optim import build_optimizer

    cfg = load_recipe(recipe_path, DetectionRecipe)
    model = build_detection_model(cfg, load_pretrained=False)
    s = resize_scale(*infer_size, cfg.input.min_size, cfg.input.max_size)
    h, w = round(infer_size[0] * s), round(infer_size[1] * s)
    images = [torch.rand(3, h, w) for _ in range(cfg.train.batch_size)]
    targets = [{"boxes": torch.tensor([[w * 0.3, h * 0.2, w * 0.6, h * 0.8]]),
                "labels": torch.tensor([i % len(cfg.model.class_names)])} for i in range(len(images))]
    optimizer = build_optimizer(model, cfg.optim)

    def train_step():
        model.train()
        loss = sum(model(images, targets).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    frame = torch.rand(3, *infer_size)

    def infer():
        model.eval()
        with torch.no_grad():
            model([frame])

    return cfg, (len(images), (h, w), train_step), (1, infer_size, infer)


def _pose_rows(recipe_path: Path):
    import torch

    from partparse.config import load_recipe
    from partparse.engine.model_builders import build_pose_model
    from partparse.engine.optim import build_optimizer
    from partparse.engine.pose_recipe import PoseRecipe

    cfg = load_recipe(recipe_path, PoseRecipe)
    model = build_pose_model(cfg, load_pretrained=False)
    size = tuple(cfg.input.input_size)
    crops = torch.rand(cfg.train.batch_size, 3, *size)
    targets = [{"keypoints": torch.cat([torch.rand(17, 2) * torch.tensor([size[1], size[0]]), torch.ones(17, 1)], 1)}
               for _ in range(len(crops))]
    optimizer = build_optimizer(model, cfg.optim)

    def train_step():
        model.train()
        loss = sum(model(crops, targets).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    eval_crops = torch.rand(8, 3, *size)

    def infer():
        model.eval()
        with torch.no_grad():
            model(eval_crops)

    return cfg, (len(crops), size, train_step), (8, size, infer)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 timed runs after 1 warm-up (default 7 after 2)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch
    from torchvision.models import resnet50

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    repeats, warmup = (3, 1) if args.quick else (7, 2)
    reference = resnet50(weights=None).eval()
    rows = [("persons", *_detection_rows(ROOT / "configs/yolof/yolof_r18_persons_syntps_cpu.yaml", (240, 320))),
            ("parts", *_detection_rows(ROOT / "configs/yolof/yolof_r18_parts_syntps_cpu.yaml", (180, 83))),
            ("pose", *_pose_rows(ROOT / "configs/hrnet/hrnet_w18_small_syntps_cpu.yaml"))]
    print(f"CPU, {args.threads} thread(s), median of {repeats} runs; reference = torchvision resnet50 forward "
          f"(no grad) on the same input size and count, same process")
    print(f"{'recipe':<38} {'what':<11} {'items':>5} {'input HxW':>10} {'ms':>8} {'ms/item':>8} "
          f"{'resnet50 ms':>11} {'ratio':>6}")
    for _stage, cfg, *measures in rows:
        for what, (n, (h, w), fn) in zip(("train step", "infer"), measures, strict=True):
            t = median_time(fn, repeats, warmup)
            ref_input = torch.rand(n, 3, h, w)
            with torch.no_grad():
                t_ref = median_time(lambda x=ref_input: reference(x), repeats, warmup)
            print(f"{cfg.name:<38} {what:<11} {n:>5} {f'{h}x{w}':>10} {t * 1e3:>8.1f} {t * 1e3 / n:>8.1f} "
                  f"{t_ref * 1e3:>11.1f} {t / t_ref:>6.2f}")


if __name__ == "__main__":
    main()
