"""Equality of two tables (dataclasses of arrays, lists and coded values), bit for bit."""

from __future__ import annotations

import dataclasses

import numpy as np

from partparse.evaluation.flat_evaluation import CodedValues


def assert_same(a, b) -> None:
    """``a`` and ``b`` are the same type with equal fields: arrays of one dtype and shape and the same
    bytes (``-0.0`` differs from ``0.0``; float32 rounding shows), coded values decoding alike."""
    assert type(a) is type(b)
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), field.name
        elif isinstance(x, CodedValues):
            assert list(x) == list(y), field.name
        elif dataclasses.is_dataclass(x):
            assert_same(x, y)
        else:
            assert x == y, field.name
