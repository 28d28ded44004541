"""Named, versioned SynTPS datasets: ``partparse synth --preset NAME`` builds exactly this content.

``bench`` is the SynTPS benchmark: every figure in docs/benchmarks.md and every model-zoo metric is
measured on its val split (200 videos), so numbers from different sessions compare. Its content is a
pure function of the config and the generator (``GENERATOR_VERSION``): a preset whose content changes
gets a new name (``bench-v2``), never a new meaning. Zoo models train on other seeds (their manifest
entry names the data command), never on this val split.
"""

from __future__ import annotations

from partparse.data.synthetic.generator import GENERATOR_VERSION, SynthConfig

#: name -> (config, generator version the figures were measured with)
PRESETS: dict[str, tuple[SynthConfig, int]] = {
    # 800 train / 200 val videos, 10 actions, 320x240, 64 frames at 15 fps, 13 annotated frames each
    "bench": (SynthConfig(videos=1000, seed=2021, val_fraction=0.2), 2),
}


def preset_config(name: str) -> SynthConfig:
    """The config of preset ``name``; ValueError for an unknown name or a preset whose content the
    current generator no longer reproduces."""
    if name not in PRESETS:
        raise ValueError(f"unknown SynTPS preset {name!r} (known: {', '.join(PRESETS)})")
    cfg, version = PRESETS[name]
    if version != GENERATOR_VERSION:
        raise ValueError(f"preset {name!r} was defined for SynTPS generator version {version}, this is "
                         f"version {GENERATOR_VERSION}: define a new preset name")
    return cfg
