"""Video decoding, clip sampling, clip transforms and the clip dataset, on small videos made here.

Frame ``k`` of a test video is flat grey in two halves: left ``16 + 14 * (k % 16)``, right
``16 + 14 * (k // 16)`` (up to 256 frames). Steps of 14 grey levels survive H.264 / MPEG-4
compression, so every decoded frame can be identified.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from partparse.data.clip_sampling import ClipSampler
from partparse.data.video_dataset import VideoClipDataset, list_videos
from partparse.data.video_reader import VideoReader
from partparse.data.video_transforms import (
    CSN_MEAN,
    CSN_STD,
    ClipToTensor,
    EvalClipTransformConfig,
    NormalizeClip,
    ShortSideResize,
    ThreeCrop,
    TrainClipTransformConfig,
    build_eval_transform,
    build_train_transform,
    short_side_size,
)
from partparse.io import InputError

W, H = 64, 48


def frame_pattern(k: int, width: int = W, height: int = H) -> np.ndarray:
    a = np.empty((height, width, 3), np.uint8)
    a[:, : width // 2] = 16 + 14 * (k % 16)
    a[:, width // 2:] = 16 + 14 * (k // 16)
    return a


def frame_ids(frames: np.ndarray) -> list[int]:
    """Identify decoded frames (N, h, w, 3) by the grey levels at the centres of their halves."""
    h, w = frames.shape[1:3]
    f = frames.astype(np.int64)
    lo = np.rint((f[:, h // 2, w // 4].mean(-1) - 16) / 14).astype(int)
    hi = np.rint((f[:, h // 2, 3 * w // 4].mean(-1) - 16) / 14).astype(int)
    return (lo + 16 * hi).tolist()


def write_video(path: Path, num_frames: int, codec: str = "libx264", gop: int = 10,
                start_pts: int = 0) -> Path:
    """Encode ``num_frames`` pattern frames at 25 fps with a keyframe every ``gop`` frames; timestamps
    start at ``start_pts`` frames."""
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.codec_context.gop_size = gop
        if codec == "libx264":  # fixed GOP: no scene-cut keyframes on the grey-level jumps
            s.codec_context.options = {"x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
        else:
            s.codec_context.bit_rate = 2_000_000
            s.codec_context.options = {"sc_threshold": "1000000000"}
        for k in range(num_frames):
            frame = av.VideoFrame.from_ndarray(frame_pattern(k), format="rgb24")
            frame.pts, frame.time_base = start_pts + k, Fraction(1, 25)
            c.mux(s.encode(frame))
        c.mux(s.encode())
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    return {
        "h264": write_video(d / "h264.mp4", 40),
        "mpeg4": write_video(d / "mpeg4.avi", 40, codec="mpeg4"),
        "mkv_late_start": write_video(d / "late.mkv", 40, start_pts=7),  # no frame count in the header
        "mp4_late_start": write_video(d / "late.mp4", 40, start_pts=7),
        "long": write_video(d / "long.mp4", 250),
    }


# -- reader -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["h264", "mpeg4", "mkv_late_start", "mp4_late_start"])
def test_metadata_and_full_decode(videos, name):
    with VideoReader(videos[name]) as r:
        assert (r.num_frames, r.width, r.height) == (40, W, H)
        assert r.fps == pytest.approx(25.0)
        assert r.duration == pytest.approx(1.6)
        assert r.info.header_frames == (0 if name == "mkv_late_start" else 40)
        frames = r.read_all()
        assert frames.shape == (40, H, W, 3) and frames.dtype == np.uint8
        assert frame_ids(frames) == list(range(40))
        assert r.frames_decoded == 40 and r.seeks == 1


@pytest.mark.parametrize("name", ["h264", "mpeg4", "mkv_late_start", "mp4_late_start"])
def test_read_frames_returns_the_asked_frames(videos, name):
    rng = np.random.default_rng(0)
    cases = [[5], [0, 1, 2, 3], [39, 0, 17], [3, 3, 3, 20, 3], [2, 38], np.arange(0, 40, 7)[::-1]]
    cases += [rng.integers(0, 40, size=12) for _ in range(4)]
    with VideoReader(videos[name]) as r:
        for idx in cases:
            assert frame_ids(r.read_frames(idx)) == list(np.asarray(idx))


def test_read_frames_decodes_only_the_gops_it_needs(videos):
    with VideoReader(videos["long"]) as r:  # 250 frames, keyframe every 10
        assert r.num_frames == 250
        clip = np.arange(218, 250, 4)  # an 8x4 clip at the end: decode from keyframe 210 to 246
        assert frame_ids(r.read_frames(clip)) == clip.tolist()
        assert (r.frames_decoded, r.seeks) == (246 - 210 + 1, 1)
        r.frames_decoded = r.seeks = 0
        assert frame_ids(r.read_frames([245, 5])) == [245, 5]  # far apart: two seeks, two partial GOPs
        assert (r.frames_decoded, r.seeks) == (6 + 6, 2)
        r.frames_decoded = r.seeks = 0
        assert frame_ids(r.read_frames([12, 19, 21])) == [12, 19, 21]  # next GOP: decode on, no seek
        assert (r.frames_decoded, r.seeks) == (12, 1)
    with VideoReader(videos["long"], seek_min_skip=1) as r:  # seek at every keyframe that skips a frame
        assert frame_ids(r.read_frames(clip)) == clip.tolist()
        assert (r.frames_decoded, r.seeks) == (9 + 7 + 9 + 7, 4)  # 210-218, 220-226, 230-238, 240-246


def test_decode_time_resize(videos):
    with VideoReader(videos["h264"], short_side=24) as r:
        frames = r.read_frames([0, 33])
    assert frames.shape == (2, 24, 32, 3)
    assert frame_ids(frames) == [0, 33]


def test_out_of_range_index(videos):
    with VideoReader(videos["h264"]) as r, pytest.raises(IndexError, match="h264.mp4"):
        r.read_frames([0, 40])


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        c.mux(s.encode(frame))
        c.mux(s.encode())
    return path


def _no_frames(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        c.start_encoding()
    return path


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(5000))


@pytest.mark.parametrize("make, message", [
    (lambda path: None, "file not found"),
    (_empty, "empty file"),
    (_random_bytes, "not a readable video"),
    (_audio_only, "no video stream"),
    (_no_frames, "video has no frames"),
])
def test_bad_files_raise_input_error_naming_them(tmp_path, make, message):
    path = tmp_path / "bad_clip.avi"
    make(path)
    with pytest.raises(InputError) as err:
        VideoReader(path)
    assert "bad_clip.avi" in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_truncated_mp4_raises_input_error(tmp_path, videos):
    data = videos["h264"].read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.mp4"):
        VideoReader(path)


# -- sampler ------------------------------------------------------------------------------------------
def test_train_clip_in_range_with_stride_and_seeded():
    s = ClipSampler(clip_len=32, frame_interval=2)
    starts = set()
    for seed in range(30):
        inds = s(300, np.random.default_rng(seed))
        assert inds.shape == (1, 32) and inds.dtype == np.int64
        assert inds.min() >= 0 and inds.max() < 300
        assert (np.diff(inds[0]) == 2).all()
        starts.add(int(inds[0, 0]))
        np.testing.assert_array_equal(inds, s(300, np.random.default_rng(seed)))
    assert len(starts) > 20 and max(starts) <= 300 - 64


def test_train_clips_one_per_segment():
    s = ClipSampler(clip_len=8, frame_interval=4, num_clips=3)
    for seed in range(20):
        offsets = s(100, np.random.default_rng(seed))[:, 0]
        segment = (100 - 32 + 1) // 3  # 23 start positions per segment
        assert ((offsets >= np.arange(3) * segment) & (offsets < np.arange(1, 4) * segment)).all()


def test_train_mode_needs_a_generator():
    with pytest.raises(ValueError, match="Generator"):
        ClipSampler(8)(100)


def test_test_clips_uniform_and_deterministic():
    s = ClipSampler(clip_len=32, frame_interval=2, num_clips=7, test_mode=True)
    inds = s(300)
    # max_offset = 300 - 63 = 237; starts round(i * 39.5), halves to even: 39.5 -> 40, 118.5 -> 118
    np.testing.assert_array_equal(inds[:, 0], [0, 40, 79, 118, 158, 198, 237])
    assert inds[-1, -1] == 299
    assert (np.diff(inds, axis=1) == 2).all()
    np.testing.assert_array_equal(inds, s(300, np.random.default_rng(1)))
    np.testing.assert_array_equal(ClipSampler(8, 4, 1, test_mode=True)(100)[0, 0], (100 - 29) // 2)


def test_short_video_loops_or_repeats_last():
    loop = ClipSampler(32, 2, test_mode=True)(40)
    np.testing.assert_array_equal(loop[0], np.r_[np.arange(0, 40, 2), np.arange(0, 24, 2)])
    train = ClipSampler(32, 2)(40, np.random.default_rng(0))
    np.testing.assert_array_equal(train, loop)  # a video shorter than a clip starts at 0
    last = ClipSampler(32, 2, test_mode=True, out_of_bound="repeat_last")(40)
    np.testing.assert_array_equal(last[0], np.r_[np.arange(0, 40, 2), np.full(12, 38)])


def test_sampler_rejects_bad_config():
    with pytest.raises(ValueError, match="clip_len"):
        ClipSampler(0)
    with pytest.raises(ValueError, match="out_of_bound"):
        ClipSampler(8, out_of_bound="wrap")  # type: ignore[arg-type]


# -- transforms ---------------------------------------------------------------------------------------
def test_short_side_size_rounds_like_mmcv():
    assert short_side_size(360, 640, 256) == (256, 455)
    assert short_side_size(640, 360, 256) == (455, 256)
    assert short_side_size(270, 481, 256) == (256, 456)  # 455.9 rounds up
    assert short_side_size(48, 64, 24) == (24, 32)


def _clip(t=4, h=72, w=128, value=None):
    x = np.broadcast_to(np.arange(w, dtype=np.uint8)[None, None, :, None], (t, h, w, 3)).copy()
    return np.full((t, h, w, 3), value, np.uint8) if value is not None else x


def test_train_transform_shape_and_same_crop_for_all_frames():
    torch.manual_seed(0)
    out = build_train_transform(TrainClipTransformConfig(short_side=64, crop_size=56))(_clip())
    assert out.shape == (3, 4, 56, 56) and out.dtype == torch.float32
    assert torch.equal(out[:, :1].expand_as(out), out)  # identical frames stay identical


def test_flip_mirrors_width():
    cfg = TrainClipTransformConfig(short_side=72, crop="random", crop_size=72, flip_prob=0.0,
                                   mean=(0.0,) * 3, std=(1.0,) * 3)
    plain = build_train_transform(cfg)(_clip(w=72))
    flipped = build_train_transform(TrainClipTransformConfig(**{**cfg.__dict__, "flip_prob": 1.0}))(_clip(w=72))
    assert torch.equal(flipped, plain.flip(-1))
    assert plain[0, 0, 0, :3].tolist() == [0.0, 1.0, 2.0]


def test_normalisation_values():
    out = build_eval_transform(EvalClipTransformConfig(short_side=72, crop="center", crop_size=64))(
        _clip(value=200))
    assert out.shape == (3, 4, 64, 64)
    expected = (200 - torch.tensor(CSN_MEAN)) / torch.tensor(CSN_STD)
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), expected)
    custom = NormalizeClip(mean=(100.0, 100.0, 100.0), std=(50.0, 50.0, 50.0))(
        ClipToTensor()(_clip(value=200)))
    assert torch.all(custom == 2.0) and custom.shape == (3, 4, 72, 128)


def test_three_crop_positions():
    clip = ClipToTensor()(_clip(h=72, w=128))  # pixel value = x coordinate
    views = ThreeCrop(72)(clip)
    assert views.shape == (3, 4, 3, 72, 72)
    assert [int(v[0, 0, 0, 0]) for v in views] == [0, (128 - 72) // 2, 128 - 72]
    tall = ThreeCrop(72)(clip.transpose(-1, -2))  # 128 high, 72 wide: crops go down
    assert tall.shape == (3, 4, 3, 72, 72)
    out = build_eval_transform(EvalClipTransformConfig(short_side=72, crop_size=72))(_clip(h=72, w=128))
    assert out.shape == (3, 3, 4, 72, 72)


def test_short_side_resize_is_a_no_op_at_size():
    clip = ClipToTensor()(_clip(h=72, w=128))
    assert ShortSideResize(72)(clip) is clip
    assert ShortSideResize(36)(clip).shape == (4, 3, 36, 64)


# -- dataset ------------------------------------------------------------------------------------------
def test_dataset_train_and_test_items(videos):
    items = [(videos["h264"], 3), (videos["long"], {"hand": 1, "leg": 0})]
    train = VideoClipDataset(items, ClipSampler(8, 2), build_train_transform(
        TrainClipTransformConfig(short_side=48, crop_size=40)))
    torch.manual_seed(0)
    item = train[1]
    assert item["inputs"].shape == (3, 8, 40, 40) and item["label"] == {"hand": 1, "leg": 0}
    assert item["frame_inds"].shape == (1, 8) and item["path"].endswith("long.mp4")
    test = VideoClipDataset(items, ClipSampler(8, 2, num_clips=2, test_mode=True),
                            build_eval_transform(EvalClipTransformConfig(short_side=48, crop_size=48)),
                            decode_short_side=48)
    item = test[0]
    assert item["inputs"].shape == (2 * 3, 3, 8, 48, 48)
    np.testing.assert_array_equal(item["frame_inds"][:, 0], [0, 40 - 15])


def test_dataset_decodes_the_sampled_frames_and_draws_from_torch_seed(videos):
    ds = VideoClipDataset([(videos["long"], 0)], ClipSampler(4, 3), lambda clip: torch.from_numpy(clip))
    torch.manual_seed(5)
    a = ds[0]
    assert frame_ids(a["inputs"].numpy()) == a["frame_inds"][0].tolist()
    torch.manual_seed(5)
    assert torch.equal(ds[0]["frame_inds"], a["frame_inds"])
    assert len({int(ds[0]["frame_inds"][0, 0]) for _ in range(10)}) > 1


def test_cached_frames_are_the_decoded_frames(videos):
    items = [(videos["long"], 0)]
    sampler = ClipSampler(4, 3, num_clips=3, test_mode=True)
    plain = VideoClipDataset(items, sampler, lambda clip: torch.from_numpy(clip), decode_short_side=32)
    cached = VideoClipDataset(items, sampler, lambda clip: torch.from_numpy(clip), decode_short_side=32,
                              cache_frames=True)
    a, b = plain[0], cached[0]
    assert torch.equal(a["inputs"], b["inputs"]) and torch.equal(a["frame_inds"], b["frame_inds"])
    assert list(cached._frames) == [0] and torch.equal(cached[0]["inputs"], a["inputs"])  # served from memory


def test_dataset_error_names_the_file(tmp_path):
    ds = VideoClipDataset([(tmp_path / "gone.mp4", 0)], ClipSampler(4, test_mode=True), lambda c: c)
    with pytest.raises(InputError, match="gone.mp4"):
        ds[0]


def test_list_videos(tmp_path, videos):
    for cls, name in [("lunge", "b.mp4"), ("lunge", "a.mp4"), ("capoeira", "z.mkv"), ("capoeira", "notes.txt")]:
        (tmp_path / "train_videos" / cls).mkdir(parents=True, exist_ok=True)
        (tmp_path / "train_videos" / cls / name).write_bytes(b"x")
    found = list_videos(tmp_path, "train")
    assert [(p.name, c) for p, c in found] == [("z.mkv", "capoeira"), ("a.mp4", "lunge"), ("b.mp4", "lunge")]
    with pytest.raises(InputError, match="test_videos"):
        list_videos(tmp_path, "test")
    (tmp_path / "empty_videos" / "x").mkdir(parents=True)
    with pytest.raises(InputError, match="no videos"):
        list_videos(tmp_path / "empty_videos")


def test_dataloader_workers_draw_distinct_reproducible_clips(videos):
    ds = VideoClipDataset([(videos["long"], i) for i in range(4)], ClipSampler(4, 3),
                          lambda clip: torch.from_numpy(clip))

    def starts() -> list[int]:
        torch.manual_seed(3)
        loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2)
        return [int(s) for batch in loader for s in batch["frame_inds"][:, 0, 0]]

    first = starts()
    assert first == starts()  # reproducible under torch.manual_seed
    assert first[0] != first[2]  # item 0 (worker 0) and item 2 (worker 1): different streams
