"""Where every file of a training run lives (``partparse train``'s work dir, and a model-zoo entry).

::

    DIR/recipe.yaml          the recipe as run (overrides included); its ``task`` says which model to build
    DIR/label_spaces.json    a video model's class names per head
    DIR/best.pth             the best validation checkpoint (when a metric is monitored)
    DIR/latest.pth           the last checkpoint (``--resume``); DIR/epoch_NNN.pth the recent epochs
    DIR/metrics.jsonl        training and validation log lines (the learning curve)
    DIR/val_scores.npz       a video model's validation scores (``partparse fuse``)
    DIR/val_history.json, coco_metrics.json, done.json

Every reader and writer of a run names its files through :class:`RunLayout`, so a file has one name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunLayout:
    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def recipe(self) -> Path:
        return self.root / "recipe.yaml"

    @property
    def label_spaces(self) -> Path:
        return self.root / "label_spaces.json"

    @property
    def best(self) -> Path:
        return self.root / "best.pth"

    @property
    def latest(self) -> Path:
        return self.root / "latest.pth"

    def epoch(self, epoch: int) -> Path:
        return self.root / f"epoch_{epoch:03d}.pth"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def val_scores(self) -> Path:
        return self.root / "val_scores.npz"

    @property
    def val_history(self) -> Path:
        return self.root / "val_history.json"

    @property
    def coco_metrics(self) -> Path:
        return self.root / "coco_metrics.json"

    @property
    def done(self) -> Path:
        return self.root / "done.json"

    def checkpoint(self) -> Path | None:
        """The checkpoint a finished run is loaded from: ``best.pth``, else ``latest.pth`` (None: neither)."""
        return next((p for p in (self.best, self.latest) if p.is_file()), None)

    def run_files(self) -> list[Path]:
        """Every fixed-name file a run may write (``epoch_NNN.pth`` aside)."""
        return [self.recipe, self.label_spaces, self.metrics, self.latest, self.best, self.val_scores,
                self.val_history, self.coco_metrics, self.done]
