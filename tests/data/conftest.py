"""Fixtures for the SynTPS tests: one tiny dataset generated once per session."""

from __future__ import annotations

import pytest

from partparse.data.synthetic.generator import SynthConfig, generate_dataset

#: 4 videos x 16 frames at 160x120: frames 0, 5, 10, 15 annotated.
TINY = SynthConfig(videos=4, seed=3, actions=4, fps=15, width=160, height=120, frames=16, val_fraction=0.25)


@pytest.fixture(scope="session")
def tiny_config() -> SynthConfig:
    return TINY


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("syntps") / "data"
    generate_dataset(TINY, root)
    return root
