"""Each folder's reader hands its humans on before its parts' boxes and states, and the join runs in those
two steps (issue 14: `evaluate --grid` assigns the humans while the rest is still being read)."""

from __future__ import annotations

import dataclasses
import multiprocessing.context
import os
import time

import numpy as np
import pytest

from partparse.evaluation import folder_tables, part_objects, tps_metric
from partparse.evaluation.folder_tables import FolderReaders, read_tables
from partparse.evaluation.metric_tables import (
    GroundTruthHumans,
    GroundTruthParts,
    GroundTruthTables,
    SubmissionHumans,
    SubmissionProposals,
    SubmissionTables,
)
from partparse.evaluation.tps_metric import TPSEvaluator
from partparse.io import InputError, write_json
from tests.oracle.random_tps import noisy_submission, random_ground_truth
from tests.oracle.tps_reference import reference_score


def _folders(tmp_path, seed=3):
    rng = np.random.default_rng(seed)
    gv, gp = random_ground_truth(rng, n_videos=5, n_frames=3, max_humans=4)
    pv, pp = noisy_submission(rng, gv, gp, false_positives=2)
    for name, obj in (("gt/gt_vid_result.json", gv), ("gt/gt_part_result.json", gp),
                      ("pred/pred_vid_result.json", pv), ("pred/pred_part_result.json", pp)):
        write_json(tmp_path / name, obj)
    return (tmp_path / "gt", tmp_path / "pred"), (gv, gp, pv, pp)


@pytest.mark.parametrize("processes", [True, False])
def test_stages_combine_into_the_whole_tables(tmp_path, processes):
    (gt, pred), _ = _folders(tmp_path)
    whole = (folder_tables.read_ground_truth_tables(gt), folder_tables.read_submission_tables(pred))
    with FolderReaders(gt, pred, processes=processes) as readers:
        stages = (readers.submission_humans(), readers.submission_proposals(), readers.ground_truth_humans(),
                  readers.ground_truth_parts())
    types = (SubmissionHumans, SubmissionProposals, GroundTruthHumans, GroundTruthParts)
    assert tuple(map(type, stages)) == types
    combined = (GroundTruthTables.combine(*stages[2:]), SubmissionTables.combine(*stages[:2]))
    for a, b in zip(whole, combined, strict=True):
        for field in dataclasses.fields(a):
            x, y = getattr(a, field.name), getattr(b, field.name)
            assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y, field.name
    for whole_type, first, second in ((SubmissionTables, SubmissionHumans, SubmissionProposals),
                                      (GroundTruthTables, GroundTruthHumans, GroundTruthParts)):
        names = [{f.name for f in dataclasses.fields(t)} for t in (whole_type, first, second)]
        assert names[0] == names[1] | names[2] and not names[1] & names[2]


def test_humans_arrive_while_the_proposals_are_read(tmp_path, monkeypatch):
    """The parent gets the humans while the child has not yet read the proposals (it waits for a file
    the parent writes only once it holds the humans)."""
    (gt, pred), _ = _folders(tmp_path)
    go_on = tmp_path / "go_on"
    real = folder_tables.submission_stages

    def stages(folder):
        humans, proposals = real(folder)
        yield humans
        deadline = time.monotonic() + 30
        while not go_on.exists():
            if time.monotonic() > deadline:
                return                                  # (the parent then reads the proposals as refused)
            time.sleep(0.01)
        yield proposals

    monkeypatch.setattr(folder_tables, "submission_stages", stages)
    with FolderReaders(gt, pred, processes=True) as readers:
        assert readers._children, "this test needs forked readers"
        humans = readers.submission_humans()
        assert humans is not None and not go_on.exists()
        go_on.touch()
        assert readers.submission_proposals() is not None


@pytest.mark.parametrize("processes", [True, False])
def test_from_folders_scores_as_the_reference(tmp_path, processes):
    (gt, pred), dicts = _folders(tmp_path, seed=4)
    forked = TPSEvaluator.from_folders(gt, pred, processes=processes)
    assert forked.flat.gt_states is not None                          # (the tables route)
    assert forked.evaluate().score == reference_score(*dicts)
    assert forked.evaluate().psc.tolist() == TPSEvaluator(*dicts).evaluate().psc.tolist()


@pytest.mark.parametrize("reader", ["ground_truth_stages", "submission_stages"])
def test_a_refused_second_stage_after_a_failing_assignment_goes_the_general_way(tmp_path, monkeypatch, reader):
    """The humans' join may fail (the official script's error) before the parts' boxes and states are
    read; if those then turn out not canonical, the general walk decides, not the error already met."""
    (gt, pred), dicts = _folders(tmp_path, seed=5)
    real = getattr(folder_tables, reader)

    def refused_second_stage(folder):
        humans, _ = real(folder)
        yield humans
        raise folder_tables.NotCanonical("a state that is not a string")

    def failing_join(*args, **kwargs):
        raise InputError("pred_part_result.json [video v / frame f]: an error of the humans")

    monkeypatch.setattr(folder_tables, reader, refused_second_stage)
    monkeypatch.setattr(tps_metric, "join_humans", failing_join)
    ev = TPSEvaluator.from_folders(gt, pred)
    assert ev.flat.gt_states is None                                  # (the general walk)
    assert ev.evaluate().score == reference_score(*dicts)
    monkeypatch.setattr(folder_tables, reader, real)                  # canonical tables: the error stands
    with pytest.raises(InputError, match="an error of the humans"):
        TPSEvaluator.from_folders(gt, pred)
    assert read_tables(gt, pred) is not None


def test_a_refused_ground_truth_stops_the_submissions_reader(tmp_path):
    (gt, pred), dicts = _folders(tmp_path, seed=6)
    (gt / "gt_part_result.json").write_text("{")
    with FolderReaders(gt, pred) as readers:
        assert readers.ground_truth_humans() is None and readers.ground_truth_parts() is None
        children = [child for child, _, _ in readers._children]
    assert children and not any(child.is_alive() for child in children)
    assert read_tables(gt, pred) is None



@pytest.mark.parametrize("processes", [True, False])
def test_stages_not_received_before_closing_read_as_refused(tmp_path, processes):
    (gt, pred), _ = _folders(tmp_path, seed=7)
    readers = FolderReaders(gt, pred, processes=processes)
    assert readers.ground_truth_humans() is not None
    readers.close()
    start = time.monotonic()
    proposals = readers.submission_proposals()                # (does not wait for a reader that is gone)
    assert time.monotonic() - start < 1.0
    if not processes:                                         # (a child may have sent them already)
        assert proposals is None


def test_frames_found_in_any_order_of_videos_and_keys(tmp_path):
    """The join takes a video whose frame keys are the GT's, in order, as one range of rows; any other
    video (keys reordered, missing or extra; videos in another order, or not in the GT) by its keys."""
    rng = np.random.default_rng(8)
    gv, gp = random_ground_truth(rng, n_videos=5, n_frames=4, max_humans=3)
    pv, pp = noisy_submission(rng, gv, gp, false_positives=1, missing_frame_prob=0.0)
    videos = list(pp)
    first, second, third = videos[0], videos[1], videos[2]
    pp[first] = dict(reversed(list(pp[first].items())))                              # reordered keys
    pp[second].pop(next(iter(pp[second])))                                            # a missing frame
    pp[third]["img_99999.json"] = {"humans": [{"box": [1, 2, 30, 40], "parts": {}}]}  # an extra frame
    pp["not_in_the_gt"] = {"img_00001.json": {"humans": []}}
    pp = dict(reversed(list(pp.items())))                                             # videos in another order
    pv["not_in_the_gt"] = "dance"
    for name, obj in (("gt/gt_vid_result.json", gv), ("gt/gt_part_result.json", gp),
                      ("pred/pred_vid_result.json", pv), ("pred/pred_part_result.json", pp)):
        write_json(tmp_path / name, obj)
    ev = TPSEvaluator.from_folders(tmp_path / "gt", tmp_path / "pred")
    assert ev.flat.gt_states is not None                                              # (the tables route)
    assert ev.evaluate().psc.tolist() == TPSEvaluator(gv, gp, pv, pp).evaluate().psc.tolist()
    assert ev.evaluate().score == reference_score(gv, gp, pv, pp)
    assert 0 < ev.evaluate().score


def test_a_reader_that_dies_between_stages_leaves_the_files_to_the_general_walk(tmp_path, monkeypatch):
    """A child killed after handing on its humans (out of memory, say): the parent reads its pipe's end as
    the rest refused, and the general walk scores the files."""
    (gt, pred), dicts = _folders(tmp_path, seed=9)
    real = folder_tables.submission_stages

    def dies(folder):
        humans, _ = real(folder)
        yield humans
        os._exit(1)

    monkeypatch.setattr(folder_tables, "submission_stages", dies)
    with FolderReaders(gt, pred) as readers:
        assert readers.submission_humans() is not None and readers.submission_proposals() is None
    ev = TPSEvaluator.from_folders(gt, pred)
    assert ev.flat.gt_states is None and ev.evaluate().score == reference_score(*dicts)


def test_no_fork_now_reads_here(tmp_path, monkeypatch):
    """Forking can fail (out of memory, a process limit): both folders are then read in this process."""
    (gt, pred), dicts = _folders(tmp_path, seed=10)
    started = []

    def no_fork(process):
        started.append(process)
        if len(started) == 2:                                    # the second reader's fork fails
            raise OSError(12, "Cannot allocate memory")
        real_start(process)

    real_start = multiprocessing.context.ForkProcess.start
    monkeypatch.setattr(multiprocessing.context.ForkProcess, "start", no_fork)
    with FolderReaders(gt, pred) as readers:
        assert readers._local is not None and not readers._children
        assert not started[0].is_alive()                          # the first reader was stopped
    ev = TPSEvaluator.from_folders(gt, pred)
    assert ev.flat.gt_states is not None and ev.evaluate().score == reference_score(*dicts)


@pytest.mark.parametrize("processes", [True, False])
def test_the_submissions_proposals_come_in_pieces_and_a_refused_piece_ends_them(tmp_path, monkeypatch, processes):
    """The submission's reader hands its proposals on in pieces of consecutive parts, which together hold
    every part; a problem met in a later piece ends them with ``None``, and the general walk scores."""
    (gt, pred), dicts = _folders(tmp_path, seed=11)
    monkeypatch.setattr(part_objects, "CHUNK_BYTES", 200)              # (several pieces of a small file)
    with FolderReaders(gt, pred, processes=processes) as readers:
        humans, pieces = readers.submission_humans(), list(readers.submission_pieces())
    assert len(pieces) > 1 and all(isinstance(p, SubmissionProposals) for p in pieces)
    assert sum(len(p.part_boxes) for p in pieces) == len(humans.part_name)
    assert TPSEvaluator.from_folders(gt, pred).evaluate().score == reference_score(*dicts)
    real = folder_tables.submission_stages

    def refused_later(folder):
        stages = real(folder)
        yield next(stages)                                              # the humans
        yield next(stages)                                              # a first piece
        raise folder_tables.NotCanonical("a state that is not a string")

    monkeypatch.setattr(folder_tables, "submission_stages", refused_later)
    with FolderReaders(gt, pred, processes=processes) as readers:
        pieces = list(readers.submission_pieces())
        assert len(pieces) == 2 and pieces[-1] is None and readers.submission_proposals() is None
    ev = TPSEvaluator.from_folders(gt, pred)
    assert ev.flat.gt_states is None and ev.evaluate().score == reference_score(*dicts)
