"""Overlays: what draw_frame paints, and rendered MP4s with the source's frames."""

from __future__ import annotations

import av
import numpy as np
import pytest

from partparse.data.video_reader import VideoReader
from partparse.structures import FramePrediction, PartProposal, PersonPrediction, VideoPrediction, frame_key
from partparse.viz.overlay import (
    PART_COLOURS,
    PERSON_COLOURS,
    SHOW_ALL,
    OverlayStyle,
    draw_frame,
    render_overlay,
    shown_persons,
)
from tests.pipeline.parse_stubs import make_tiny_dataset


def _person(box, keypoints=None):
    return PersonPrediction(box, {"head": [PartProposal((box[0] + 2, box[1] + 2, box[0] + 8, box[1] + 8), "nod", 0.9)]},
                            0.8, keypoints)


def test_draw_frame_paints_boxes_skeleton_and_labels():
    image = np.zeros((120, 160, 3), np.uint8)
    kps = [(60.0 + k, 40.0 + 3 * k, 1.0) for k in range(17)]
    kps[16] = (130.0, 100.0, 0.0)  # not confident: no dot
    out = draw_frame(image, FramePrediction(frame_key(0), [_person((40, 30, 100, 110), kps)]), "clap", 0.75)
    assert image.max() == 0 and out.shape == image.shape  # the input is untouched
    assert tuple(out[70, 40]) == PERSON_COLOURS[0]          # left edge of the person box
    assert tuple(out[85, 75]) == PERSON_COLOURS[0]          # the dot of keypoint 15 at (75, 85)
    assert tuple(out[100, 130]) == (0, 0, 0)                # the unconfident keypoint is not drawn
    assert (out[:20, :60] > 0).any()                        # the action label at the top left
    assert (draw_frame(image, None) == 0).all()             # no prediction: nothing drawn


def test_shown_persons_hide_overlapping_weak_and_surplus_persons():
    def scored(box, score):
        return PersonPrediction(box, {}, score)

    best, dup, other, weak = (scored((10, 10, 50, 90), 0.9), scored((12, 11, 52, 92), 0.6),
                              scored((60, 10, 100, 90), 0.7), scored((110, 10, 150, 90), 0.2))
    frame = FramePrediction(frame_key(0), [dup, weak, other, best])
    assert shown_persons(frame, OverlayStyle()) == [best, other, weak]          # the duplicate of `best` hidden
    assert shown_persons(frame, OverlayStyle(min_person_score=0.5)) == [best, other]
    assert shown_persons(frame, OverlayStyle(max_persons=1)) == [best]
    assert shown_persons(frame, SHOW_ALL) == [best, other, dup, weak]            # everything, best first
    assert shown_persons(None, OverlayStyle()) == []
    with pytest.raises(ValueError, match="part_labels"):
        OverlayStyle(part_labels="some")


def test_part_labels_only_for_parts_doing_something():
    image = np.zeros((120, 160, 3), np.uint8)
    parts = {"head": [PartProposal((20, 60, 60, 90), "none", 0.9)],
             "hip": [PartProposal((90, 60, 130, 90), "bend", 0.9)]}
    frame = FramePrediction(frame_key(0), [PersonPrediction((5, 5, 150, 110), parts, 0.9)])

    def text_pixels(out, box):  # label text sits on a black box just above the part box
        x1, y1, x2, _ = box
        return (out[max(0, y1 - 14):y1 - 1, x1:x2] > 0).any(axis=-1).sum()

    active, every = draw_frame(image, frame), draw_frame(image, frame, style=SHOW_ALL)
    assert tuple(active[75, 20]) == PART_COLOURS["head"] and tuple(active[75, 90]) == PART_COLOURS["hip"]
    assert text_pixels(active, (20, 60, 60, 90)) == 0 < text_pixels(every, (20, 60, 60, 90))  # "head: none"
    assert text_pixels(active, (90, 60, 130, 90)) > 0                                          # "hip: bend"


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return sorted(make_tiny_dataset(tmp_path_factory.mktemp("syn")).rglob("*.mp4"))[0]


def test_render_overlay_keeps_every_frame_and_holds_keyframe_predictions(video, tmp_path):
    box = (20.0, 10.0, 60.0, 55.0)
    prediction = VideoPrediction(video.stem, "clap", [FramePrediction(frame_key(5), [_person(box)])])
    out = render_overlay(video, prediction, tmp_path / "o.mp4", action_score=0.5)
    with VideoReader(video) as src, VideoReader(out) as dst:
        assert (dst.num_frames, dst.width, dst.height) == (src.num_frames, src.width, src.height) == (24, 96, 64)
        assert dst.fps == pytest.approx(src.fps)
        a, b = src.read_frames(range(24)).astype(int), dst.read_frames(range(24)).astype(int)
    edge = (slice(15, 50), 20)  # the box's left edge, drawn from frame 5 on (held until the end)
    change = np.abs(a[:, edge[0], edge[1]] - b[:, edge[0], edge[1]]).mean(axis=(1, 2))
    # re-encoding alone moves these noisy pixels by ~25 levels; the drawn edge by ~85
    assert change[:5].max() < 45 < change[5:].min()  # frames before the first keyframe: no box


def test_render_overlay_pads_odd_frame_sizes(tmp_path):
    path = tmp_path / "odd.mkv"
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=10)
        s.width, s.height, s.pix_fmt = 33, 25, "yuv420p"
        for i in range(7):
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.full((25, 33, 3), 30 * i, np.uint8), format="rgb24")))
        c.mux(s.encode(None))
    out = render_overlay(path, VideoPrediction("odd", "x", []), tmp_path / "odd.mp4")
    with VideoReader(out) as r:
        assert (r.num_frames, r.width, r.height) == (7, 34, 26)
