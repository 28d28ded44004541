"""The parser with our (tiny, random-init) models end to end, and its output files."""

from __future__ import annotations

import numpy as np
import pytest

from partparse.data.tps_format import load_submission, submission_to_json
from partparse.evaluation.tps_metric import TPSEvaluator
from partparse.pipeline.adapters import (
    HRNetPoseEstimator,
    PartDetectorConfig,
    PersonDetectorConfig,
    YOLOFPartDetector,
    YOLOFPersonDetector,
)
from partparse.pipeline.parse_output import read_parsed_video, write_parse_result, write_submission_from_videos
from partparse.pipeline.parser import ParserConfig, PartParser
from partparse.pipeline.video_scorers import CSNVideoScorer
from tests.pipeline.parse_stubs import (
    TINY_VIDEO_NAMES,
    all_ground_truth,
    make_tiny_dataset,
    single_thread,
    tiny_csn,
    tiny_hrnet,
    tiny_scorer_config,
    tiny_yolof,
)

one_thread = pytest.fixture(autouse=True, scope="module")(single_thread)


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    root = make_tiny_dataset(tmp_path_factory.mktemp("syn"))
    videos = sorted(root.rglob("*.mp4"))[:2]
    parser = PartParser(ParserConfig(top_k_persons=2),
                        YOLOFPersonDetector(tiny_yolof(1), PersonDetectorConfig(score_thr=0.0)),
                        HRNetPoseEstimator(tiny_hrnet()),
                        YOLOFPartDetector(tiny_yolof(10, seed=1), PartDetectorConfig(score_thr=0.0)),
                        [CSNVideoScorer(tiny_csn(), TINY_VIDEO_NAMES, tiny_scorer_config())])
    return root, videos, [parser.parse(v) for v in videos]


def test_every_stage_of_random_models_fills_the_prediction(parsed):
    _, videos, results = parsed
    for video, r in zip(videos, results, strict=True):
        p = r.prediction
        assert p.video_id == video.stem and p.action in TINY_VIDEO_NAMES["action"]
        assert [f.key for f in p.frames] == ["img_00001.json", "img_00006.json", "img_00011.json",
                                             "img_00016.json", "img_00021.json"]
        for frame in p.frames:
            assert len(frame.persons) == 2  # score_thr 0: every keyframe has candidates, top 2 kept
            for person in frame.persons:
                x1, y1, x2, y2 = person.box
                assert 0 <= x1 <= x2 <= 95 and 0 <= y1 <= y2 <= 63
                assert len(person.keypoints) == 17 and 0 < len(person.parts) <= 10
                assert all(len(props) == 1 for props in person.parts.values())
                hand = [props[0].state for name, props in person.parts.items() if name.endswith("_hand")]
                assert set(hand) <= {"none", "clap", "raise"}  # from the hand head; other parts: "unknown"
        assert r.labels.sources["hand"] == "video" and r.labels.sources["head"] == "missing"
        assert r.timings["pose"] > 0 and r.timings["parts"] > 0 and r.timings["video"] > 0


def test_per_video_files_round_trip_and_merge_into_a_scored_submission(parsed, tmp_path):
    root, videos, results = parsed
    files = [write_parse_result(r, v, tmp_path / "videos") for r, v in zip(results, videos, strict=True)]
    for f, r in zip(files, results, strict=True):
        prediction, facts = read_parsed_video(f)
        assert prediction == r.prediction  # boxes, scores, states and keypoints survive the JSON
        assert facts["video_path"].endswith(".mp4") and facts["top5"]["action"][0][0] == r.labels.action
    write_submission_from_videos(files, tmp_path / "sub")
    loaded = load_submission(tmp_path / "sub")
    assert list(loaded) == [v.stem for v in videos]
    gt_vid, gt_part = all_ground_truth(root)
    gt_vid = {v.stem: gt_vid[v.stem] for v in videos}
    result = TPSEvaluator(gt_vid, gt_part, *submission_to_json(loaded.values())).evaluate()
    assert 0.0 <= result.score < 0.9999 and len(result.psc) == 2 and np.isfinite(result.psc).all()
