"""Final numbers of a detection or pose run: its best checkpoint on the whole validation split, in fp32
and with fp16-rounded weights (what a half-precision zoo file would hold), plus its size.

    python benchmarks/eval_spatial_run.py RUN_DIR [--checkpoint RUN_DIR/best.pth] [--set data.val_max_images=null]

Part crops exported with their ``crowding`` also get ``AP_crowded`` / ``AP50_crowded`` (crops another person
covers by 30 % or more: where keypoint dots tell whose parts are whose).

Writes ``RUN_DIR/final_eval.json``: ``{"checkpoint", "params", "mb_fp32", "mb_fp16", "fp32": {metric: value},
"fp16": {...}, "eval_seconds"}``. The validation set is the recipe's (``data.val_ann``) with every image
(``val_max_images`` ignored unless given with ``--set``); fp16 rounds every floating tensor of the state
dict to half precision and back, so the model still runs in fp32 on the CPU.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from partparse.config import apply_overrides, from_dict, to_dict
from partparse.engine.checkpoint import checkpoint_of, read_model_state
from partparse.engine.trained_models import load_trained


def evaluate(model, recipe) -> dict[str, float]:
    device = torch.device("cpu")
    if recipe.task == "detection":
        from partparse.data.coco_detection import detection_collate
        from partparse.engine.detection_task import build_detection_datasets, detection_eval

        _, val = build_detection_datasets(recipe)
        loader = DataLoader(val, batch_size=8, shuffle=False, collate_fn=detection_collate)
        return detection_eval(model, loader, device)
    from partparse.engine.pose_task import build_pose_datasets, make_pose_eval, pose_collate

    _, val = build_pose_datasets(recipe)
    loader = DataLoader(val, batch_size=8, shuffle=False, collate_fn=pose_collate)
    return make_pose_eval(recipe)(model, loader, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the run's best.pth, else latest.pth")
    parser.add_argument("--set", action="append", default=[], help="recipe override, e.g. data.val_max_images=200")
    parser.add_argument("--no-fp16", action="store_true", help="skip the fp16-rounded evaluation")
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, checkpoint = checkpoint_of(args.checkpoint or args.run)
    model, recipe, _ = load_trained(checkpoint)
    data = replace(recipe.data, val_max_images=None) if hasattr(recipe.data, "val_max_images") else recipe.data
    recipe = replace(recipe, data=data)
    if args.set:
        recipe = from_dict(type(recipe), apply_overrides(to_dict(recipe), args.set), "recipe")
    state = read_model_state(checkpoint)
    floats = [v for v in state.values() if v.is_floating_point()]
    params = sum(p.numel() for p in model.parameters())
    out = {"checkpoint": str(checkpoint), "params": params,
           "mb_fp32": round(sum(v.numel() * 4 for v in floats) / 2**20, 3),
           "mb_fp16": round(sum(v.numel() * 2 for v in floats) / 2**20, 3)}
    t = time.perf_counter()
    out["fp32"] = evaluate(model, recipe)
    out["eval_seconds"] = round(time.perf_counter() - t, 1)
    if not args.no_fp16:
        model.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in state.items()})
        out["fp16"] = evaluate(model.eval(), recipe)
    keys = [k for k in ("AP", "AP50", "AP75", "AP_crowded", "AP50_crowded") if k in out["fp32"]]
    print(json.dumps({k: v for k, v in out.items() if k not in ("fp32", "fp16")}))
    for precision in ("fp32", "fp16"):
        if precision in out:
            print(precision, {k: round(100 * out[precision][k], 2) for k in keys})
    (args.run / "final_eval.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
