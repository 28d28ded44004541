"""The HTML report: one file with inline images, per-video facts and the Kinetics-TPS score."""

from __future__ import annotations

import base64
import copy
import io
import re

import numpy as np
import pytest
from PIL import Image

from partparse.data.tps_format import submission_to_json
from partparse.data.vocabulary import coarse_part
from partparse.evaluation.tps_metric import TPSEvaluator
from partparse.io import read_json
from partparse.pipeline.parse_output import read_parsed_video, write_parse_result
from partparse.pipeline.parser import ParserConfig, PartParser
from partparse.viz.html_report import ReportVideo, report_states, write_html_report
from partparse.viz.state_colours import state_palette, swatch_html
from partparse.viz.timelines import gt_state_grid, person_tracks, predicted_state_grid, track_state_grid
from tests.pipeline.parse_stubs import OracleStages, all_ground_truth, make_tiny_dataset, oracle_scorer


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    """Three videos parsed with oracle stages, written and read back as the CLI does."""
    root = make_tiny_dataset(tmp_path_factory.mktemp("syn"))
    out = tmp_path_factory.mktemp("videos")
    gt_vid, gt_part = all_ground_truth(root)
    videos = sorted(root.glob("train_videos/*/*.mp4"))[:2] + sorted(root.glob("val_videos/*/*.mp4"))[:1]
    files = []
    for path in videos:
        oracle = OracleStages(gt_part[path.stem])
        parser = PartParser(ParserConfig(box_refinement=False, pose_guidance=False), oracle, part_detector=oracle,
                            video_scorers=[oracle_scorer(gt_vid, gt_part, path.stem)])
        files.append(write_parse_result(parser.parse(path), path, out))
    return root, [ReportVideo(*read_parsed_video(f)) for f in files]


def _images(page: str) -> list[Image.Image]:
    found = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    return [Image.open(io.BytesIO(base64.b64decode(m))) for m in found]


def test_report_holds_thumbnails_timelines_and_the_score_of_the_videos_with_gt(parsed, tmp_path):
    root, videos = parsed
    failures = [("broken.mp4", "broken.mp4: not a readable video")]
    path = write_html_report(videos, tmp_path / "report.html", gt_dir=root / "gt_train", failures=failures,
                             model_load_seconds=1.5)
    page = path.read_text()
    images = _images(page)
    assert len(images) == 6  # per video: a thumbnail and a timeline
    assert [im.width for im in images[0::2]] == [320] * 3 and images[0].height == 213  # 96x64 scaled
    gt_vid = read_json(root / "gt_train" / "gt_vid_result.json")
    gt_part = read_json(root / "gt_train" / "gt_part_result.json")
    ids = [v.prediction.video_id for v in videos]
    gt_vid = {v: a for v, a in gt_vid.items() if v in ids}
    assert len(gt_vid) == 2  # the val video has no GT there: scored over the two others
    score = TPSEvaluator(gt_vid, gt_part, *submission_to_json([v.prediction for v in videos])).evaluate().score
    assert f"<td>TPS score</td><td>{100 * score:.2f} %</td>" in page
    assert page.count("ground truth: ") == 2 and page.count(">correct<") == 2
    assert all(i in page for i in ids) and "broken.mp4: not a readable video" in page
    assert "3 videos parsed, 1 failed." in page
    total = sum(v.facts["timings"]["total"] for v in videos)
    frames = sum(v.facts["num_frames"] for v in videos)
    assert total > 0
    assert (f"{frames} video frames (15 keyframes) parsed in {total:.2f} s: "
            f"<b>{frames / total:.1f} video frames/s") in page
    assert "Timings: not recorded" not in page and "models loaded once, in 1.50 s" in page


def test_report_without_gt_or_video_files(parsed, tmp_path):
    _, videos = parsed
    moved = [ReportVideo(v.prediction, {**v.facts, "video_path": str(tmp_path / "gone.mp4")}) for v in videos[:1]]
    page = write_html_report(moved, tmp_path / "r.html").read_text()
    assert "(video not readable)" in page and len(_images(page)) == 1 and "TPS score" not in page


def test_report_of_predictions_without_parse_facts_says_so_and_fills_the_state_table(parsed, tmp_path):
    """The demo's case: predictions only (no timings, no video-level states): no fake "0.0 s", and the
    coarse-part table is read off the prediction."""
    _, videos = parsed
    bare = [ReportVideo(v.prediction, {"video_path": v.facts["video_path"]}) for v in videos]
    page = write_html_report(bare, tmp_path / "r.html").read_text()
    assert "Timings: not recorded" in page and "0.0 s" not in page and "keyframes/s" not in page
    for v in videos:
        for coarse, state in v.facts["part_states"].items():
            if any(coarse_part(n) == coarse for f in v.prediction.frames for p in f.persons for n in p.parts):
                assert f"<tr><td>{coarse}</td><td>{swatch_html(state_palette(report_states(bare))[state])}{state}" \
                       f"</td><td>prediction</td></tr>" in page


def test_one_colour_per_state_across_the_page(parsed, tmp_path):
    root, videos = parsed
    page = write_html_report(videos, tmp_path / "r.html", gt_dir=root / "gt_train").read_text()
    gt_part = read_json(root / "gt_train" / "gt_part_result.json")
    shown = report_states(videos, {v.prediction.video_id: gt_part[v.prediction.video_id] for v in videos[:2]})
    palette = state_palette(shown)
    assert len(set(palette.values())) == len(palette)  # distinct
    assert page.count('class=legend') == 1 and all(f"{swatch_html(c)}{s}</span>" in page for s, c in palette.items())
    for v in videos:  # every coarse-part cell of a state has the state's one colour
        for state in v.facts["part_states"].values():
            assert f"{swatch_html(palette[state])}{state}</td>" in page
    timelines = _images(page)[1::2]
    for v, im in zip(videos, timelines, strict=True):  # the timeline draws the states of the video in those colours
        pixels = {tuple(p) for p in np.asarray(im.convert("RGB")).reshape(-1, 3)}
        drawn = {p[0].state for f in v.prediction.frames for person in f.persons for p in person.parts.values()}
        for state in drawn:
            assert tuple(int(palette[state][i:i + 2], 16) for i in (1, 3, 5)) in pixels, state


def test_palette_is_fixed_by_the_vocabulary():
    a = state_palette(["raise", "none", "bend", "unknown"])
    b = state_palette(["bend", "raise", "unknown", "none", "bend"])
    assert a == b and list(a) == ["none", "bend", "raise", "unknown"]
    assert a["none"] == "#d9d9d9" and a["unknown"] == "#7f7f7f" and a["bend"] == "#1f77b4"
    many = state_palette([f"s{i:02d}" for i in range(40)])
    assert len(set(many.values())) == 40


def test_person_tracks_group_by_track_id_else_by_rank(parsed):
    _, videos = parsed
    prediction = copy.deepcopy(videos[0].prediction)
    tracked = person_tracks(prediction)                # the parser tracks: its ids group the persons
    assert tracked and all(label.startswith("track ") for label, _ in tracked)
    for frame in prediction.frames:                    # a prediction without ids (e.g. read from a submission)
        for person in frame.persons:
            person.track_id = None
    by_rank = person_tracks(prediction)
    assert [label for label, _ in by_rank][:1] == ["person #1"]
    assert all(rows[t] is f.persons[0] for t, f in enumerate(prediction.frames) if f.persons
               for label, rows in by_rank[:1])
    for t, frame in enumerate(prediction.frames):  # a tracker's ids: person 0 is track 7 until frame 2, then 9
        for person in frame.persons[:1]:
            person.track_id = 7 if t < 2 else 9
    tracks = dict(person_tracks(prediction))
    assert "track 7" in tracks and "track 9" in tracks
    assert [p is not None for p in tracks["track 7"]][:3] == [True, True, False]
    assert sum(p is not None for p in tracks["track 9"]) == len(prediction.frames) - 2
    grid = track_state_grid(tracks["track 9"], ["head"])
    assert grid[0][:2] == [None, None]


def test_state_grids(parsed):
    root, videos = parsed
    prediction = videos[0].prediction
    grid = predicted_state_grid(prediction, ["head", "not_a_part"])
    assert len(grid[0]) == len(prediction.frames) and grid[1] == [None] * len(prediction.frames)
    assert set(grid[0]) == {videos[0].facts["part_states"]["head"]}  # one video-level state everywhere
    gt_part = read_json(root / "gt_train" / "gt_part_result.json")[prediction.video_id]
    frame = {"img_00001.json": {"humans": [{"parts": {"head": {"verb": "b"}}}, {"parts": {"head": {"verb": "a"}}}]}}
    assert gt_state_grid(frame, ["img_00001.json", "img_00006.json"], ["head"]) == [["a", None]]  # tie: first name
    assert len(gt_state_grid(gt_part, list(gt_part), ["head"])[0]) == len(gt_part)
