"""`partparse parse` end to end: trained work dirs -> submission, overlays, report; failures; sharding."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from partparse.cli import app
from partparse.cli.parse import collect_videos, merge_outputs, parse_videos
from partparse.data.tps_format import load_submission, submission_to_json
from partparse.data.video_reader import VideoReader
from partparse.evaluation.tps_metric import TPSEvaluator
from partparse.io import InputError, read_json, write_json
from partparse.pipeline.parser import ParserConfig, PartParser
from tests.pipeline.parse_stubs import (
    OracleStages,
    all_ground_truth,
    make_tiny_dataset,
    oracle_scorer,
    single_thread,
    write_parse_recipe,
    write_tiny_work_dirs,
)

one_thread = pytest.fixture(autouse=True, scope="module")(single_thread)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("parse")
    data = make_tiny_dataset(tmp / "syn")
    recipe = write_parse_recipe(tmp / "parse.yaml", write_tiny_work_dirs(tmp / "runs"))
    broken = tmp / "broken.mp4"
    broken.write_bytes(os.urandom(300))
    return data, recipe, broken


def test_parse_writes_everything_and_reports_one_failed_video(setup, tmp_path):
    data, recipe, broken = setup
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["parse", str(data / "train_videos"), str(broken), "--recipe", str(recipe),
                                   "--out", str(out), "--render", "--report", "--gt", str(data / "gt_train"),
                                   "--no-progress"])
    assert res.exit_code == 1, res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {broken}: not a readable video: " + errors[0].split("not a readable video: ", 1)[1]]
    videos = sorted(p.stem for p in (data / "train_videos").rglob("*.mp4"))
    submission = load_submission(out / "submission")
    assert sorted(submission) == videos and len(videos) == 3
    gt_vid = read_json(data / "gt_train" / "gt_vid_result.json")
    gt_part = read_json(data / "gt_train" / "gt_part_result.json")
    score = TPSEvaluator(gt_vid, gt_part, *submission_to_json(submission.values())).evaluate().score
    assert 0 <= score < 0.9999
    report = (out / "report.html").read_text()
    assert f"<td>TPS score</td><td>{100 * score:.2f} %</td>" in report and report.count("data:image/png") == 6
    for v in videos:
        assert read_json(out / "videos" / f"{v}.json")["keyframes"] == 5
        with VideoReader(out / "overlays" / f"{v}.mp4") as r:
            assert r.num_frames == 24
    summary = read_json(out / "summary.json")
    assert summary["videos"] == 3 and summary["frames"] == 72 and summary["failed"][0]["path"] == str(broken)
    total = summary["seconds"]["total"]  # the report shows what the parse measured, as summary.json has it
    assert total > 0 and f"72 video frames (15 keyframes) parsed in {total:.2f} s: <b>{72 / total:.1f} video frames/s" \
        in report and f"models loaded once, in {summary['model_load_seconds']:.2f} s" in report
    legend = report.split("class=legend>", 1)[1].split("</p>", 1)[0]  # the models' states, shown or not
    assert all(f"{s}</span>" in legend for s in ("none", "clap", "raise", "unknown"))
    assert "pose_guidance: true" in (out / "parse_recipe.yaml").read_text()  # the recipe as run


def test_switches_from_the_command_line(setup, tmp_path):
    data, recipe, _ = setup
    video = sorted((data / "val_videos").rglob("*.mp4"))[0]
    res = CliRunner().invoke(app, ["parse", str(video), "--recipe", str(recipe), "--out", str(tmp_path),
                                   "--no-progress", "--set", "parser.keyframe_step=8",
                                   "--set", "parser.missing_state=null"])
    assert res.exit_code == 0, res.output
    facts = read_json(tmp_path / "videos" / f"{video.stem}.json")
    assert list(facts["frames"]) == ["img_00001.json", "img_00009.json", "img_00017.json"]
    states = {name for f in facts["frames"].values() for h in f["humans"] for name in h["parts"]}
    assert states and all(n.endswith("_hand") for n in states)  # only the hand has a head: the rest left out


def test_bad_input_is_one_line_and_exit_2(setup, tmp_path):
    data, recipe, _ = setup
    bad = tmp_path / "bad.yaml"
    bad.write_text(recipe.read_text().replace("top_k_persons", "top_k_person"))
    res = CliRunner().invoke(app, ["parse", str(data), "--recipe", str(bad), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "bad.yaml.parser: unknown key 'top_k_person'" in res.stderr
    gone = tmp_path / "gone.yaml"
    gone.write_text(recipe.read_text().replace(str(recipe.parent / "runs" / "pose"), str(tmp_path / "nowhere")))
    res = CliRunner().invoke(app, ["parse", str(data), "--recipe", str(gone), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "nowhere: expected a training work dir or a .pth checkpoint" in res.stderr
    res = CliRunner().invoke(app, ["parse", str(data), "--recipe", str(recipe), "--out", str(tmp_path),
                                   "--set", "parser.top_k_persons=11"])
    assert res.exit_code == 2 and "parse.yaml: top_k_persons must be 1..10" in res.stderr
    res = CliRunner().invoke(app, ["parse", str(tmp_path / "missing.mp4"), "--recipe", str(recipe),
                                   "--out", str(tmp_path)])
    assert res.exit_code == 2 and "missing.mp4: no such file or folder" in res.stderr


def test_collect_videos_walks_folders_and_refuses_duplicate_ids(tmp_path):
    for rel in ("a/x.mp4", "a/b/y.MKV", "a/notes.txt", "c/x.avi"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert collect_videos([tmp_path / "a"]) == [tmp_path / "a/b/y.MKV", tmp_path / "a/x.mp4"]
    with pytest.raises(InputError, match="x.avi: same video id 'x' as .*a/x.mp4"):
        collect_videos([tmp_path / "a", tmp_path / "c"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no video files"):
        collect_videos([tmp_path / "empty"])


def test_merge_takes_every_rank_in_input_order(setup, tmp_path):
    data, _, broken = setup
    gt_vid, gt_part = all_ground_truth(data)
    videos = sorted((data / "train_videos").rglob("*.mp4")) + [broken]

    class OracleParser:  # a fresh oracle parser per video (the stages replay that video's GT)
        def parse(self, path, progress=None):
            oracle = OracleStages(gt_part[path.stem])
            return PartParser(ParserConfig(box_refinement=False, pose_guidance=False), oracle, part_detector=oracle,
                              video_scorers=[oracle_scorer(gt_vid, gt_part, path.stem)]).parse(path, progress)

    for rank in (0, 1):
        done, failed = parse_videos(OracleParser(), videos[rank::2], tmp_path, show_progress=False)
        write_json(tmp_path / ".ranks" / f"rank_{rank}.json", {"done": done, "failed": failed})
    files, failed = merge_outputs(videos, tmp_path, 2)
    assert [f.stem for f in files] == [v.stem for v in videos[:3]] == list(load_submission(tmp_path / "submission"))
    assert [f[0] for f in failed] == [str(broken)]


@pytest.mark.slow
def test_two_ranks_share_the_videos_and_rank_0_merges(setup, tmp_path):
    data, recipe, broken = setup
    videos = sorted((data / "train_videos").rglob("*.mp4"))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "partparse.cli", "parse", *map(str, videos), str(broken), "--recipe", str(recipe),
           "--out", str(tmp_path), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode != 0  # rank 1 got the broken video (index 3): the run fails
    assert f"{broken}: not a readable video" in proc.stderr
    ranks = [read_json(tmp_path / ".ranks" / f"rank_{r}.json") for r in (0, 1)]
    assert ranks[0]["done"] == [videos[0].stem, videos[2].stem] and ranks[1]["done"] == [videos[1].stem]
    assert list(load_submission(tmp_path / "submission")) == [v.stem for v in videos]  # input order
