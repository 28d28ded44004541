"""Video recognition on a validation split: each video model, their ensemble, and the part-state sources.

Reads what ``partparse train`` left in video run dirs (``val_scores.npz``, ``label_spaces.json``,
``val_history.json``) and the ground truth, and prints markdown tables (docs/benchmarks.md):

1. per model and for the ensemble (equal weights, and the weights ``partparse fuse`` finds on the same
   validation videos, which flatters it): action top-1 and, per coarse part, the accuracy of the video's
   predicted state from the part heads (the report's video-level states), from the class prior of the
   predicted action (the report's baseline) and from the class prior of the true action;
2. with ``--frozen RUN --trained RUN`` (the same pretrained model fine-tuned with ``model.frozen_bn``
   true and false): each run's last validation top-1 per head, and the best over its history.

    .venv/bin/python benchmarks/bench_video_recognition.py RUN [RUN ...] --gt-train DIR --gt-val DIR \
        [--frozen RUN --trained RUN]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from partparse.config import read_recipe_dict  # noqa: E402
from partparse.data.vocabulary import COARSE_PARTS  # noqa: E402
from partparse.experiments.fusion_search import search_head_weights  # noqa: E402
from partparse.experiments.video_evaluation import (  # noqa: E402
    evaluate_video_recognition,
    fuse_models,
    load_model_scores,
)
from partparse.io import read_json  # noqa: E402
from partparse.pipeline.part_state_transfer import ClassPriorPartStates  # noqa: E402


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def recognition_table(runs: list[Path], gt_train: Path, gt_val: Path) -> str:
    prior = ClassPriorPartStates.fit(read_json(gt_train / "gt_vid_result.json"),
                                     read_json(gt_train / "gt_part_result.json"))
    gt_vid, gt_part = read_json(gt_val / "gt_vid_result.json"), read_json(gt_val / "gt_part_result.json")
    models = [(run.name, load_model_scores(run)) for run in runs]
    if len(models) > 1:
        singles = [m for _, m in models]
        searched = {h: found["weights"]
                    for h, found in search_head_weights([run / "val_scores.npz" for run in runs]).items()}
        models.append(("ensemble, equal weights", fuse_models(singles)))
        models.append((f"ensemble, weights searched on val (action {searched['action']})",
                       fuse_models(singles, searched)))
    lines = ["| model | action top-1 | part states from | " + " | ".join(COARSE_PARTS) + " | mean |",
             "|---|---|---|" + "---|" * (len(COARSE_PARTS) + 1)]
    for name, scores in models:
        r = evaluate_video_recognition(scores, gt_vid, gt_part, prior, COARSE_PARTS)
        for k, (source, label) in enumerate((("heads", "part heads"), ("prior", "class prior (predicted action)"),
                                             ("prior_gt_action", "class prior (true action)"))):
            acc = r.part_accuracy[source]
            cells = [_pct(acc[c]) if c in acc else "" for c in COARSE_PARTS]
            lines.append(f"| {name if k == 0 else ''} | {_pct(r.action_top1) if k == 0 else ''} | {label} | "
                         + " | ".join(cells) + f" | {_pct(r.mean_part_accuracy(source))} |")
    videos = len(gt_vid)
    return (f"{videos} validation videos; part accuracy = predicted video state == majority GT state, %\n\n"
            + "\n".join(lines))


def frozen_bn_table(frozen: Path, trained: Path) -> str:
    lines = ["| fine-tuning | epochs | " + " | ".join(["action", *COARSE_PARTS])
             + " | best action top-1 (validation #) |",
             "|---|---|" + "---|" * (len(COARSE_PARTS) + 2)]
    for name, run in (("BN frozen", frozen), ("BN trained", trained)):
        history = json.loads((run / "val_history.json").read_text())
        last = history[-1]
        best = max(range(len(history)), key=lambda k: history[k].get("top1_action", 0.0))
        epochs = read_recipe_dict(run / "recipe.yaml")["schedule"]["epochs"]
        cells = [_pct(last.get(f"top1_{h}", float("nan"))) for h in ["action", *COARSE_PARTS]]
        lines.append(f"| {name} | {epochs} | " + " | ".join(cells)
                     + f" | {_pct(history[best]['top1_action'])} ({best + 1}) |")
    return "last validation top-1 per head (%, label = `<action>_<Part>_<state>`)\n\n" + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="video run dirs (partparse train work dirs)")
    parser.add_argument("--gt-train", type=Path, required=True, help="GT folder of the training split (the prior)")
    parser.add_argument("--gt-val", type=Path, required=True, help="GT folder of the validation split")
    parser.add_argument("--frozen", type=Path, help="run fine-tuned with model.frozen_bn=true")
    parser.add_argument("--trained", type=Path, help="the same fine-tuning with model.frozen_bn=false")
    args = parser.parse_args()
    print(recognition_table(args.runs, args.gt_train, args.gt_val))
    if args.frozen and args.trained:
        print()
        print(frozen_bn_table(args.frozen, args.trained))


if __name__ == "__main__":
    main()
