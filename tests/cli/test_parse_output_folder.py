"""`partparse parse` and its --out folder (issue 13, items 7, 16, 17): a second run is refused unless
--force, which removes the previous run's files (only those); inputs are checked before anything is
written; a folder that cannot be written is one line, exit code 2."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from partparse.cli import app
from partparse.io import write_json
from tests.pipeline.parse_stubs import make_tiny_dataset, single_thread, write_parse_recipe, write_tiny_work_dirs

one_thread = pytest.fixture(autouse=True, scope="module")(single_thread)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("parse_out")
    data = make_tiny_dataset(tmp / "syn")
    works = write_tiny_work_dirs(tmp / "runs")
    recipe = write_parse_recipe(tmp / "parse.yaml", works)
    videos = sorted((data / "train_videos").rglob("*.mp4"))
    return data, works, recipe, videos


def _parse(videos, recipe, out, *extra):
    return CliRunner().invoke(app, ["parse", *map(str, videos), "--recipe", str(recipe), "--out", str(out),
                                    "--no-progress", *extra])


def _one_line(res, fragment):
    assert res.exit_code == 2, res.output
    errors = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and fragment in errors[0], res.stderr
    assert "Traceback" not in res.output


def test_a_second_run_is_refused_and_force_replaces_the_first(setup, tmp_path):
    _, _, recipe, videos = setup
    out = tmp_path / "out"
    assert _parse(videos[:2], recipe, out, "--render").exit_code == 0
    (out / "notes.txt").write_text("mine")
    before = (out / "videos" / f"{videos[0].stem}.json").read_bytes()
    _one_line(_parse(videos[2:], recipe, out), "folder is not empty (use --force")
    assert (out / "videos" / f"{videos[0].stem}.json").read_bytes() == before      # nothing touched
    res = _parse(videos[2:], recipe, out, "--force")
    assert res.exit_code == 0, res.output
    assert sorted(p.stem for p in (out / "videos").iterdir()) == [videos[2].stem]
    assert not (out / "overlays").exists()             # the first run's overlays went with its videos
    assert (out / "notes.txt").read_text() == "mine"   # what parse did not write stays


def test_out_that_is_a_file_or_cannot_be_created(setup, tmp_path):
    _, _, recipe, videos = setup
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_line(_parse(videos[:1], recipe, blocker), "exists and is not a folder")
    _one_line(_parse(videos[:1], recipe, blocker / "out"), f"{blocker / 'out'}: cannot write")
    assert blocker.read_text() == "x"


def test_the_gt_is_checked_before_any_video_is_parsed(setup, tmp_path):
    data, _, recipe, videos = setup
    gt = tmp_path / "gt"
    shutil.copytree(data / "gt_train", gt)
    write_json(gt / "gt_part_result.json", {"v": {"img_00001.json": {"humans": [{"box": "nope", "parts": {}}]}}})
    out = tmp_path / "out"
    _one_line(_parse(videos[:1], recipe, out, "--report", "--gt", str(gt)), str(gt / "gt_part_result.json"))
    assert not out.exists()                                 # nothing parsed, nothing written


@pytest.mark.parametrize("content", ['{"action": "jump"}', "[1, 2]", '{"action": []}', "{"])
def test_a_malformed_label_spaces_file_is_one_line(setup, tmp_path, content):
    _, works, _, videos = setup
    video = tmp_path / "video"
    shutil.copytree(works["video"], video)
    (video / "label_spaces.json").write_text(content)
    recipe = write_parse_recipe(tmp_path / "parse.yaml", {**works, "video": video})
    out = tmp_path / "out"
    _one_line(_parse(videos[:1], recipe, out), str(video / "label_spaces.json"))
    assert not out.exists()


def _encode(path, width, height, frames, options=None, noise=False):
    """An H.264 MP4 of black frames, or of noise (the frames then outweigh the header);
    ``options``: muxer options such as faststart."""
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="mp4", options=options or {}) as c:
        s = c.add_stream("libx264", rate=15, options={"preset": "ultrafast"})
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        for _ in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")    # a fresh frame each time: its own timestamp
            for plane in frame.planes:
                plane.update(rng.bytes(plane.buffer_size) if noise else bytes(plane.buffer_size))
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    return path


def test_an_absurd_frame_size_is_refused_in_one_line(setup, tmp_path):
    _, _, recipe, _ = setup
    big = _encode(tmp_path / "big.mp4", 8192, 8192, 1)          # ~200 KB that decode to 200 MB a frame
    res = _parse([big], recipe, tmp_path / "out")
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert res.exit_code == 1 and errors == [f"error: {big}: frame size 8192x8192 is larger than partparse reads "
                                             "(16777216 pixels, e.g. 4096x4096); scale the video down first"]


def test_a_truncated_faststart_mp4_is_parsed_with_a_warning_naming_it(setup, tmp_path):
    _, _, recipe, _ = setup
    whole = _encode(tmp_path / "whole.mp4", 96, 64, 64, {"movflags": "faststart"}, noise=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    res = _parse([cut], recipe, tmp_path / "out", "--render")
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and f"{cut}: holds" in warnings[0] and "of the 64 frames its header counts" in warnings[0]
    assert _parse([whole], recipe, tmp_path / "out2").stderr.count("warning:") == 0


@pytest.mark.parametrize("prior", ["gt_folder", "table"])
def test_a_malformed_class_prior_is_one_line_before_parsing(setup, tmp_path, prior):
    import yaml

    data, works, recipe, videos = setup
    if prior == "gt_folder":
        bad = tmp_path / "gt"
        shutil.copytree(data / "gt_train", bad)
        write_json(bad / "gt_part_result.json", {"v": {"img_00001.json": {"humans": "many"}}})
        fragment = str(bad / "gt_part_result.json")
    else:
        bad = write_json(tmp_path / "prior.json", {"jump": {"head": ["none"]}})
        fragment = f"{bad}: a class prior is"
    spec = yaml.safe_load(recipe.read_text())
    spec["models"]["class_prior"] = str(bad)
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    _one_line(_parse(videos[:1], tmp_path / "r.yaml", out), fragment)
    assert not out.exists()
