"""The zoo's checksums are computed once per process for an unchanged file, and again once it changes."""

from __future__ import annotations

import os

from partparse.model_zoo import registry


def test_verified_sha256_is_cached_for_settled_files_and_recomputed_after_a_change(tmp_path, monkeypatch):
    path = tmp_path / "w.bin"
    path.write_bytes(b"a" * 1000)
    calls = []
    real = registry.sha256_of
    monkeypatch.setattr(registry, "sha256_of", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(registry, "_DIGESTS", {})
    first = registry.verified_sha256(path)
    assert registry.verified_sha256(path) == first and len(calls) == 2   # just written: not trusted yet
    old = path.stat().st_mtime - 60
    os.utime(path, (old, old))
    monkeypatch.setattr(registry, "_SETTLED_S", -1e9)                   # ctime is now: count it settled
    registry.verified_sha256(path)
    registry.verified_sha256(path)
    assert len(calls) == 3                                             # hashed once, then remembered
    path.write_bytes(b"b" * 1000)                                      # same size, rewritten
    assert registry.verified_sha256(path) == real(path) != first
