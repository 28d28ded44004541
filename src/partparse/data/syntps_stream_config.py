"""What a SynTPS stream renders (the ``data.stream`` section of the detection and pose recipes).

Its own module so that reading a recipe does not import the stream datasets and the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SynTPSStreamConfig:
    """What a stream renders. ``seed`` must differ from the evaluation set's (the bench uses 2021);
    ``length`` is the dataset's virtual size (indices ``0 .. length-1``): keep it far above the samples a
    run draws so no frame comes twice."""

    seed: int = 7
    length: int = 1_000_000
    width: int = 320
    height: int = 240
    frames: int = 64                        # video length a frame is drawn from (motion phase)
    fps: int = 15
    max_people: int = 3
    jpeg_quality: list[int] = field(default_factory=lambda: [40, 95])   # [lo, hi] of a uniform draw; [] = none

    def __post_init__(self) -> None:
        if self.length < 1:
            raise ValueError(f"stream length must be >= 1, got {self.length}")
        q = self.jpeg_quality
        if q and (len(q) != 2 or not 1 <= q[0] <= q[1] <= 100):
            raise ValueError(f"jpeg_quality must be [] or [lo, hi] with 1 <= lo <= hi <= 100, got {self.jpeg_quality}")
