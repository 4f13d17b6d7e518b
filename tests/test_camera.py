"""Cameras: the simulated ones for real, and the factory's detection on this machine."""

from __future__ import annotations

import functools
import importlib.util
import logging
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from appliance import DEMO_MEDIA
from appliance.camera import SlideshowCamera, VideoFileCamera, detect_cameras, open_camera
from appliance.camera.factory import v4l2_nodes
from appliance.camera.opencv import jetson_csi_pipeline
from appliance.errors import CameraError

SIZE = (320, 240)
PHOTOS = [
    DEMO_MEDIA / "farm/cow/cow.jpg",
    DEMO_MEDIA / "forest/forest_path.jpg",
    DEMO_MEDIA / "harbour/harbour_boats_evening.jpg",
]


def mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 images (0–255)."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@functools.lru_cache(maxsize=32)
def photo_resized(path: Path, size: tuple[int, int], box=None) -> np.ndarray:
    """The photo (or its ``box``) scaled to ``size``, read-only (cached)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize(size, Image.BILINEAR, box=box))


# -- slideshow ---------------------------------------------------------------------------------


def test_slideshow_frames_are_deterministic_rgb() -> None:
    a = SlideshowCamera(PHOTOS, 2.0, size=SIZE)
    b = SlideshowCamera(PHOTOS, 2.0, size=SIZE)
    for t in (0.0, 1.3, 3.7, 5.99, 20.1):
        fa = a.frame_at(t)
        assert fa.shape == (240, 320, 3) and fa.dtype == np.uint8
        assert fa.flags["C_CONTIGUOUS"] and fa.flags["WRITEABLE"]
        assert np.array_equal(fa, b.frame_at(t))
        assert np.array_equal(fa, a.frame_at(t))  # from the cache: the same again


def test_slideshow_changes_photo_at_the_pace_and_labels_follow() -> None:
    cam = SlideshowCamera(PHOTOS, 2.0, size=SIZE)
    assert cam.labels == ["farm/cow/cow", "forest/forest_path", "harbour/harbour_boats_evening"]
    expect = {0.1: 0, 1.9: 0, 2.1: 1, 3.9: 1, 4.5: 2, 6.2: 0, 9.0: 1}  # loops after 6 s
    for t, i in expect.items():
        assert cam.index_at(t) == i and cam.label_at(t) == cam.labels[i]
        assert cam.path_at(t) == PHOTOS[i].absolute()
    # Within a photo the picture drifts slowly; at the cut it changes completely.
    slow = SlideshowCamera(PHOTOS, 8.0, size=SIZE)
    for t in (0.5, 4.0, 7.5, 12.0):
        assert mad(slow.frame_at(t), slow.frame_at(t + 0.1)) < 8
    assert mad(slow.frame_at(7.95), slow.frame_at(8.05)) > 40
    # Each frame shows its own photo: nearer it than the others.
    for t, i in expect.items():
        frame = cam.frame_at(t)
        dists = [mad(frame, photo_resized(p, SIZE)) for p in PHOTOS]
        assert int(np.argmin(dists)) == i


def test_slideshow_of_a_folder_is_sorted_and_labelled_by_relative_path() -> None:
    cam = SlideshowCamera(DEMO_MEDIA, 8.0, size=SIZE)
    rel = [p.relative_to(DEMO_MEDIA).with_suffix("").as_posix() for p in cam.paths]
    assert rel == sorted(rel) == cam.labels
    assert len(cam.paths) == len(list(DEMO_MEDIA.rglob("*.jpg")))
    assert cam.label_at(8.0 * 3 + 1) == cam.labels[3]
    assert cam.label_at(cam.duration_s + 1) == cam.labels[0]


def test_slideshow_without_loop_holds_the_last_frame() -> None:
    cam = SlideshowCamera(PHOTOS, 1.0, size=SIZE, loop=False)
    assert cam.label_at(100.0) == cam.labels[-1]
    assert np.array_equal(cam.frame_at(100.0), cam.frame_at(cam.duration_s))


def test_pan_zoom_moves_but_stays_inside_the_photo() -> None:
    cam = SlideshowCamera(PHOTOS, 8.0, size=SIZE)
    for i, path in enumerate(PHOTOS):
        with Image.open(path) as im:
            w, h = im.size
        boxes = [cam.crop_at(8.0 * i + u) for u in np.linspace(0.0, 7.999, 25)]
        for left, top, right, bottom in boxes:
            assert -1e-6 <= left < right <= w + 1e-6 and -1e-6 <= top < bottom <= h + 1e-6
            # The crop has the frame's aspect: the photo is never stretched.
            assert (right - left) / (bottom - top) == pytest.approx(SIZE[0] / SIZE[1], rel=1e-3)
        first, last = np.array(boxes[0]), np.array(boxes[-1])
        assert np.abs(first - last).max() > 0.03 * w  # it moved
        assert mad(cam.frame_at(8.0 * i + 0.2), cam.frame_at(8.0 * i + 7.8)) > 3
        # The frame is the crop_at box of the photo, scaled to the frame size.
        t = 8.0 * i + 5.0
        assert mad(cam.frame_at(t), photo_resized(path, SIZE, box=cam.crop_at(t))) < 4


def test_without_pan_zoom_the_crop_is_still_and_centred() -> None:
    cam = SlideshowCamera(PHOTOS[:1], 8.0, pan_zoom=False, size=SIZE)
    with Image.open(PHOTOS[0]) as im:
        w, h = im.size
    left, top, right, bottom = cam.crop_at(0.5)
    assert cam.crop_at(7.5) == pytest.approx((left, top, right, bottom))
    assert (left + right) / 2 == pytest.approx(w / 2) and (top + bottom) / 2 == pytest.approx(h / 2)
    assert np.array_equal(cam.frame_at(0.5), cam.frame_at(7.5))


def test_read_paces_itself_on_the_clock_from_open() -> None:
    with SlideshowCamera(PHOTOS, 2.0, size=SIZE, max_fps=10.0) as cam:
        start = time.monotonic()
        frames = [cam.read(timeout_s=1.0) for _ in range(6)]
        took = time.monotonic() - start
        assert all(f is not None and f.shape == (240, 320, 3) for f in frames)
        assert 0.35 <= took <= 2.0  # 5 periods of 0.1 s after the first frame
        assert cam.read(timeout_s=0.0) is None  # the next one is not due yet
        assert cam.read(timeout_s=1.0) is not None
        assert cam.frames_read == 7
    with pytest.raises(CameraError, match="not open"):
        cam.read()


def test_read_shows_the_picture_for_the_time_since_open() -> None:
    with SlideshowCamera(PHOTOS, 0.2, pan_zoom=False, size=SIZE, max_fps=50.0) as cam:
        labels = []
        while cam.elapsed_s() < 0.7:
            before = cam.elapsed_s()
            frame = cam.read(timeout_s=1.0)
            after = cam.elapsed_s()
            assert frame is not None
            if cam.index_at(before) == cam.index_at(after):  # not across a cut
                assert np.array_equal(frame, cam.frame_at(before))
                labels.append(cam.label_at(before))
    assert labels[0] == cam.labels[0] and set(labels) == set(cam.labels)  # it went round


def test_fail_after_s_simulates_an_unplugged_camera_once() -> None:
    cam = SlideshowCamera(PHOTOS, 2.0, size=SIZE, max_fps=20.0, fail_after_s=0.3)
    cam.open()
    start = time.monotonic()
    with pytest.raises(CameraError, match="simulated unplug"):
        while time.monotonic() - start < 3.0:
            assert cam.read(timeout_s=1.0) is not None
    assert 0.25 <= time.monotonic() - start <= 1.5
    with pytest.raises(CameraError):
        cam.read()  # still gone until reopened
    cam.close()
    cam.open()  # reopening works: the failure applied once
    start = time.monotonic()
    while time.monotonic() - start < 0.5:
        assert cam.read(timeout_s=1.0) is not None
    cam.close()


def test_unplugged_for_s_keeps_open_failing_for_a_while() -> None:
    cam = SlideshowCamera(PHOTOS, 2.0, size=SIZE, fail_after_s=0.0, unplugged_for_s=0.4)
    cam.open()
    with pytest.raises(CameraError):
        cam.read()
    cam.close()
    with pytest.raises(CameraError, match="unplugged"):
        cam.open()
    time.sleep(0.45)
    cam.open()
    assert cam.read(timeout_s=1.0) is not None
    cam.close()


def test_slideshow_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match="not found"):
        SlideshowCamera(tmp_path / "missing")
    with pytest.raises(CameraError, match="no photos"):
        SlideshowCamera(tmp_path)
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    cam = SlideshowCamera(tmp_path)
    with pytest.raises(CameraError, match=r"broken\.jpg: is not a JPEG, PNG, WebP or BMP picture"):
        cam.open()


# -- video file --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 4 s clip: PHOTOS[0] for 2 s then PHOTOS[1] for 2 s, at 5 fps."""
    import av

    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    path = tmp_path_factory.mktemp("video") / "two_photos.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=5)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.gop_size = 4  # a few keyframes, so seeking is exercised
        for i in range(20):
            rgb = photo_resized(PHOTOS[0] if i < 10 else PHOTOS[1], SIZE)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_video_file_camera_shows_the_right_photo_and_loops(clip: Path) -> None:
    cam = VideoFileCamera(clip)
    assert cam.duration_s == pytest.approx(4.0)
    assert cam.frame_count == 20 and cam.frame_size == SIZE
    assert cam.label_at(1.0) == "two_photos"
    refs = [photo_resized(p, SIZE) for p in PHOTOS[:2]]
    for t, which in [(0.0, 0), (1.0, 0), (1.95, 0), (2.0, 1), (3.5, 1), (4.5, 0), (7.0, 1)]:
        frame = cam.frame_at(t)
        assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
        assert frame.flags["C_CONTIGUOUS"]
        assert mad(frame, refs[which]) < 12 < mad(frame, refs[1 - which]), t
    # Looping, and the same frames whatever order they are asked in (seek vs. decode on).
    assert np.array_equal(cam.frame_at(1.0), cam.frame_at(5.0))
    fresh = VideoFileCamera(clip)
    for t in (3.1, 0.5, 2.9, 1.3):
        assert np.array_equal(fresh.frame_at(t), cam.frame_at(t))
    cam.close()
    held = VideoFileCamera(clip, loop=False)
    assert np.array_equal(held.frame_at(100.0), cam.frame_at(3.9))


def test_video_file_camera_reads_in_real_time_and_scales(clip: Path) -> None:
    with VideoFileCamera(clip, size=(160, 160), max_fps=20.0) as cam:
        assert cam.frame_size == (160, 120)  # fits the box, aspect kept
        frame = cam.read(timeout_s=1.0)
        assert frame is not None and frame.shape == (120, 160, 3)


def test_video_file_camera_errors(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match="not found"):
        VideoFileCamera(tmp_path / "missing.mp4").open()
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\0" * 1000)
    with pytest.raises(CameraError, match=r"junk\.mp4"):
        VideoFileCamera(junk).open()


def test_video_fail_after_s(clip: Path) -> None:
    with VideoFileCamera(clip, fail_after_s=0.2) as cam:
        time.sleep(0.25)
        with pytest.raises(CameraError, match="video file"):
            cam.read(timeout_s=0.5)


# -- factory -----------------------------------------------------------------------------------

no_camera_here = pytest.mark.skipif(
    bool(detect_cameras()), reason="this machine has a camera: auto would use it"
)


@no_camera_here
def test_auto_falls_back_to_the_demo_slideshow_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="appliance.camera"):
        cam = open_camera("auto", size=SIZE, fps=10.0, slideshow_seconds=3.0)
    try:
        assert isinstance(cam, SlideshowCamera)
        assert cam.root == DEMO_MEDIA and cam.seconds_per_image == 3.0 and cam.size == SIZE
        assert any("no camera found" in r.getMessage() for r in caplog.records)
        frame = cam.read(timeout_s=1.0)
        assert frame is not None and frame.shape == (240, 320, 3)
    finally:
        cam.close()


def test_explicit_simulated_specs(clip: Path) -> None:
    cam = open_camera(f"video:{clip}", size=SIZE, fps=10.0)
    assert isinstance(cam, VideoFileCamera) and cam.read(timeout_s=1.0) is not None
    cam.close()
    folder = DEMO_MEDIA / "rain"
    cam = open_camera(f"slideshow:{folder}", size=SIZE)
    assert isinstance(cam, SlideshowCamera) and cam.root == folder
    cam.close()
    cam = open_camera("slideshow", size=SIZE)
    assert isinstance(cam, SlideshowCamera) and cam.root == DEMO_MEDIA
    cam.close()


@pytest.mark.parametrize(
    "spec",
    ["bogus", "usb:0", "video:", "v4l2:", "video:/no/such/clip.mp4", "slideshow:/no/such/dir",
     "picamera2:x"],
)
def test_bad_specs_raise_camera_error_naming_the_spec(spec: str) -> None:
    with pytest.raises(CameraError) as info:
        open_camera(spec)
    assert repr(spec) in str(info.value)


@pytest.mark.skipif(importlib.util.find_spec("picamera2") is not None, reason="picamera2 present")
def test_picamera2_missing_says_how_to_install() -> None:
    with pytest.raises(CameraError, match="apt install python3-picamera2"):
        open_camera("picamera2")


@pytest.mark.skipif(importlib.util.find_spec("cv2") is not None, reason="OpenCV present")
def test_opencv_missing_says_how_to_install() -> None:
    for spec in ("v4l2:/dev/video0", "gstreamer"):
        with pytest.raises(CameraError, match="opencv"):
            open_camera(spec)


def test_detect_cameras_never_raises() -> None:
    found = detect_cameras()
    assert isinstance(found, list) and all(isinstance(line, str) for line in found)


def test_v4l2_nodes_reads_sysfs_names_and_skips_pi_isp_nodes(tmp_path: Path) -> None:
    dev, sys = tmp_path / "dev", tmp_path / "sys"
    names = {"video0": "bcm2835-isp", "video10": "pispbe", "video2": "USB 2.0 Camera: USB Camera"}
    for node, name in names.items():
        (dev).mkdir(exist_ok=True)
        (dev / node).write_bytes(b"")  # not a device: VIDIOC_QUERYCAP fails (ENOTTY)
        (sys / node).mkdir(parents=True)
        (sys / node / "name").write_text(name + "\n")
    (dev / "video-other").write_bytes(b"")
    nodes = v4l2_nodes(dev, sys)
    assert [n.number for n in nodes] == [0, 2, 10]
    assert [bool(n.skip_reason) for n in nodes] == [True, False, True]
    usb = nodes[1]
    assert usb.name == "USB 2.0 Camera: USB Camera" and usb.capture is None and usb.query_error
    assert usb.describe().startswith(f"v4l2:{dev / 'video2'} — USB 2.0 Camera")


def test_jetson_pipeline_keeps_the_capture_aspect() -> None:
    pipeline = jetson_csi_pipeline()
    assert pipeline.startswith("nvarguscamerasrc sensor-id=0 ! ")
    assert "width=398, height=224, format=BGRx" in pipeline  # covers 320×224, 16:9
    assert "width=854, height=480, format=BGRx" in jetson_csi_pipeline(0, (640, 480))
    assert pipeline.endswith("appsink drop=true max-buffers=1 sync=false")


def test_a_slideshow_decodes_through_the_one_picture_reader(tmp_path: Path) -> None:
    """A slideshow folder is untrusted too: a picture past the pixel limit is refused in
    one line, and a phone's portrait photo (EXIF orientation) stands upright."""
    from PIL import Image

    from appliance.vision.images import MAX_PIXELS

    side = int(MAX_PIXELS**0.5) + 16
    Image.new("L", (side, side)).save(tmp_path / "huge.png")
    cam = SlideshowCamera(tmp_path)
    with pytest.raises(CameraError, match=r"huge\.png"):
        cam.open()
    (tmp_path / "huge.png").unlink()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° to display: stored 400×200, seen 200×400
    Image.new("RGB", (400, 200), (200, 30, 30)).save(tmp_path / "portrait.jpg", exif=exif)
    cam = SlideshowCamera(tmp_path)
    cam.open()
    assert cam._photo_size(0) == (200, 400)
