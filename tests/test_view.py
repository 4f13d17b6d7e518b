"""The live view's server, event and access rules, against a stand-in engine (no browser).

The real browser test against a running engine is tests/test_view_browser.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import io
import json
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from appliance import DEMO_MEDIA, PROJECT_ROOT
from appliance.engine.snapshot import Snapshot
from appliance.view import ViewServer, build_event, check_access, is_loopback_address
from appliance.view.adapter import interval_mass, keyframe_index, timeline_bins
from appliance.view.images import Thumbnails, scene_hues
from appliance.view.server import host_header_name


# ------------------------------------------------------------------ stand-ins
@dataclass
class FakeCorpus:
    name: str
    keyframe_times: np.ndarray
    scenes: list[str]
    duration_s: float
    spans: list[tuple[str, float, float]]
    origins: list[str] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    source: dict = field(default_factory=dict)
    path: Path = Path("/nonexistent")

    def scene_spans(self):
        return list(self.spans)


def make_corpus(name: str = "demo", source: dict | None = None) -> FakeCorpus:
    # Two scenes: "forest" 0–60 s (3 keyframes), "waterfall" 60–100 s (2 keyframes).
    times = np.array([0.0, 20.0, 40.0, 60.0, 80.0])
    return FakeCorpus(
        name=name, keyframe_times=times,
        scenes=["forest"] * 3 + ["waterfall"] * 2, duration_s=100.0,
        spans=[("forest", 0.0, 60.0), ("waterfall", 60.0, 100.0)],
        origins=["forest/forest_path.jpg"] * 3 + ["waterfall/waterfall_dam_spillway.jpg"] * 2,
        variants=["", "flip", "zoom", "", "left"],
        source=source or {},
    )


class FakeSource:
    """A ViewFeed whose snapshot the test sets."""

    block_s = 512 / 48000

    def __init__(self, corpora: list[FakeCorpus]) -> None:
        self.corpora = corpora
        self.snap = Snapshot()
        self.grains = np.array([5.0, 61.5, 70.25, -1.0, 1e9])

    def snapshot(self):
        return self.snap

    def corpus_at(self, index):
        return self.corpora[index] if 0 <= index < len(self.corpora) else None

    def corpus_named(self, name):
        return next((c for c in self.corpora if c.name == name), None)

    def sounding_positions(self):
        return self.grains


def playing_snapshot(corpus: FakeCorpus, frames_seen: int = 7, colour=(200, 30, 30)):
    p = np.array([0.04, 0.06, 0.1, 0.6, 0.2])
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[:] = colour
    times = corpus.keyframe_times
    top = tuple((float(times[i]), corpus.scenes[i], 0.1 * (r + 1), 0.25 * r - 0.5)
                for r, i in enumerate(np.argsort(-p)))
    return Snapshot(
        corpus_index=0, corpus_name=corpus.name, volume=0.6, camera="fake", camera_ok=True,
        frame=frame, p=p, top=top, vision_fps=4.0, inference_ms=55.5, frames_seen=frames_seen,
        xruns=1, blocks=1000, max_block_render_ratio=0.25, grains_dropped=3,
    )


# ------------------------------------------------------------------ pure functions
def test_the_snapshot_imports_without_numba() -> None:
    """The view (and its tests) use the engine's own Snapshot: no Numba, no kernel."""
    code = ("import sys; from appliance.engine.snapshot import Snapshot; Snapshot(); "
            "assert 'numba' not in sys.modules, 'numba imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PROJECT_ROOT, timeout=60)


def test_timeline_bins_spread_mass_over_uneven_spans() -> None:
    times = np.array([0.0, 10.0, 90.0])  # spans of 10, 80 and 10 s
    p = np.array([0.25, 0.5, 0.25])
    bins = timeline_bins(p, times, 100.0, 10)
    assert bins.sum() == pytest.approx(1.0)
    assert bins[0] == pytest.approx(0.25)  # all of keyframe 0's mass in its 10 s
    assert bins[1:9] == pytest.approx(np.full(8, 0.5 / 8))  # keyframe 1 spread over 80 s
    assert interval_mass(p, times, 100.0, 0.0, 50.0) == pytest.approx(0.25 + 0.5 * 40 / 80)
    assert keyframe_index(times, 10.0) == 1 and keyframe_index(times, 89.0) == 2


def test_event_shows_the_share_of_frames_embedded() -> None:
    """Vision that rests: the page shows how many camera frames went to the model."""
    corpus = make_corpus()
    src = FakeSource([corpus])
    src.snap = dataclasses.replace(playing_snapshot(corpus, frames_seen=6), frames_read=240,
                                   frames_embedded=6)
    stats = build_event(src, 1)["stats"]
    assert stats["frames_read"] == 240 and stats["frames_embedded"] == 6
    assert stats["embedded_share"] == pytest.approx(0.025)


def test_event_carries_state_p_grains_top_and_stats() -> None:
    corpus = make_corpus()
    src = FakeSource([corpus])
    src.snap = playing_snapshot(corpus)
    ev = build_event(src, 3, keyframe_url=ViewServer.keyframe_url)
    text = json.dumps(ev, allow_nan=False)
    assert len(text) < 8000  # no images inside the JSON
    assert ev["seq"] == 3 and ev["frame"] == 7
    assert ev["corpus"]["name"] == "demo" and ev["corpus"]["duration_s"] == 100.0
    assert [s["name"] for s in ev["corpus"]["scenes"]] == ["forest", "waterfall"]
    assert ev["corpus"]["scenes"][1]["mass"] == pytest.approx(0.8)
    assert 1 <= len(ev["p"]) <= 400 and max(ev["p"]) == 1.0
    assert ev["grains"] == [5.0, 61.5, 70.25]  # out-of-range positions dropped
    assert [t["k"] for t in ev["top"]] == [3, 4, 2, 1, 0]
    assert ev["top"][0] == {"k": 3, "t": 60.0, "scene": "waterfall", "distance": 0.1,
                            "pan": -0.5, "src": "/keyframe/demo/3.jpg"}
    assert [t["pan"] for t in ev["top"]] == [-0.5, -0.25, 0.0, 0.25, 0.5]  # where heard
    assert ev["state"] == {"label": "playing", "volume": 0.6, "muted": False,
                           "sleeping": False, "timer_min": 0}
    stats = ev["stats"]
    assert stats["xruns"] == 1 and stats["inference_ms"] == 55.5
    assert stats["max_block_render_ms"] == pytest.approx(0.25 * 512 / 48000 * 1000, abs=0.01)


def test_event_drops_a_stale_p_after_a_corpus_switch() -> None:
    old, new = make_corpus("old"), make_corpus("new")
    new.keyframe_times = np.array([0.0, 50.0])
    new.scenes = ["a", "b"]
    new.spans = [("a", 0.0, 50.0), ("b", 50.0, 100.0)]
    src = FakeSource([old, new])
    src.snap = dataclasses.replace(playing_snapshot(old), corpus_index=1, corpus_name="new")
    ev = build_event(src, 1)
    assert ev["corpus"]["name"] == "new"
    assert ev["p"] is None and ev["top"] == []
    assert all(s["mass"] is None for s in ev["corpus"]["scenes"])


def test_event_before_anything_is_published() -> None:
    ev = build_event(FakeSource([make_corpus()]), 1)
    assert ev["frame"] is None and ev["p"] is None
    json.dumps(ev, allow_nan=False)


def test_state_labels() -> None:
    corpus = make_corpus()
    src = FakeSource([corpus])
    src.snap = dataclasses.replace(playing_snapshot(corpus), muted=True, timer_min=30)
    assert build_event(src, 1)["state"]["label"] == "muted"
    src.snap = dataclasses.replace(src.snap, sleeping=True)
    assert build_event(src, 1)["state"]["label"] == "asleep"


def test_scene_hues_are_distinct_and_sent_to_the_page() -> None:
    names = ["forest", "stream", "waterfall", "rain", "night", "farm", "harbour", "forest"]
    hues = scene_hues(names)
    assert list(hues) == names[:7]
    ordered = sorted(hues.values())
    gaps = np.diff([*ordered, ordered[0] + 360])
    assert gaps.min() >= 20  # seven scenes, all clearly different colours
    src = FakeSource([make_corpus()])
    src.snap = playing_snapshot(src.corpora[0])
    ev = build_event(src, 1)
    assert [s["hue"] for s in ev["corpus"]["scenes"]] == [hues["forest"], hues["stream"]]


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("localhost", True), ("app.localhost", True), ("0.0.0.0", False), ("::", False),
    ("192.168.1.20", False), ("::ffff:10.0.0.2", False), ("example.org", False),
])
def test_is_loopback_address(address: str, loopback: bool) -> None:
    assert is_loopback_address(address) is loopback


def test_host_header_name() -> None:
    assert host_header_name("127.0.0.1:8080") == "127.0.0.1"
    assert host_header_name("[::1]:8080") == "::1"
    assert host_header_name("localhost") == "localhost"


def test_access_decisions() -> None:
    def ok(**kw) -> bool:
        args = {"local_only": True, "client_ip": "127.0.0.1", "expected_token": None,
                "given_tokens": [], "host_header": "127.0.0.1:8080"} | kw
        return check_access(**args) is None

    # Default (bound to loopback): the device itself only.
    assert ok()
    assert not ok(client_ip="192.168.1.7")
    assert not ok(client_ip="::ffff:192.168.1.7")
    assert not ok(host_header="evil.example:8080")  # DNS rebinding
    assert ok(host_header=None)
    # Bound to the network: the token, from anyone (the device included).
    net = {"local_only": False, "expected_token": "s3cret"}
    assert not ok(**net, client_ip="192.168.1.7")
    assert not ok(**net, client_ip="192.168.1.7", given_tokens=["wrong"])
    assert not ok(**net, client_ip="127.0.0.1")
    assert ok(**net, client_ip="192.168.1.7", given_tokens=["s3cret"], host_header="x.local")
    assert ok(**net, client_ip="192.168.1.7", given_tokens=["", "é", "s3cret"])


# ------------------------------------------------------------------ thumbnails
def test_thumbnail_from_a_scene_manifest_photo_with_its_variant(tmp_path: Path) -> None:
    manifest = DEMO_MEDIA.parent / "world.toml"
    corpus = make_corpus(source={"kind": "scene-manifest", "path": str(manifest)})
    corpus.origins = ["media/" + o for o in corpus.origins]
    thumbs = Thumbnails(size=96)
    plain = Image.open(io.BytesIO(thumbs.get(corpus, 0)))
    flipped = Image.open(io.BytesIO(thumbs.get(corpus, 1)))
    assert plain.size == (96, 96) and plain.format == "JPEG"
    a = np.asarray(plain, np.float32)
    b = np.asarray(flipped, np.float32)[:, ::-1]
    assert np.abs(a - b).mean() < 12  # the flip variant is the photo mirrored
    assert thumbs.get(corpus, 0) is thumbs.get(corpus, 0)  # cached


def test_thumbnail_from_a_video_corpus_frame(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    video = tmp_path / "clip.mp4"
    with av.open(str(video), "w") as out:  # 1 s red, 1 s blue, 1 s green at 10 frames/s
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(30):
            rgb = np.zeros((48, 64, 3), np.uint8)
            rgb[..., (0, 2, 1)[i // 10]] = 220
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    # A folder-of-videos corpus: this clip is the second file, starting at 10 s.
    corpus = FakeCorpus(
        name="vid", keyframe_times=np.array([0.0, 10.0, 11.0, 12.0]),
        scenes=["other", "clip", "clip", "clip"], duration_s=13.0,
        spans=[("other", 0.0, 10.0), ("clip", 10.0, 13.0)],
        origins=["other.mp4", "clip.mp4", "clip.mp4", "clip.mp4"], variants=[""] * 4,
        source={"kind": "video", "path": str(tmp_path)}, path=tmp_path / "corpus")
    thumbs = Thumbnails(size=32)
    colours = [np.asarray(Image.open(io.BytesIO(thumbs.get(corpus, k)))).mean(axis=(0, 1))
               for k in (1, 2, 3)]
    assert [int(np.argmax(c)) for c in colours] == [0, 2, 1]  # red, blue, green
    # other.mp4 does not exist: a swatch, not an error.
    assert Image.open(io.BytesIO(thumbs.get(corpus, 0))).size == (32, 32)


def test_thumbnail_placeholder_when_sources_are_gone() -> None:
    corpus = make_corpus(source={"kind": "scene-manifest", "path": "/gone/world.toml"})
    im = Image.open(io.BytesIO(Thumbnails().get(corpus, 4)))
    assert im.format == "JPEG" and im.size == (160, 160)


# ------------------------------------------------------------------ the server
def _get(server: ViewServer, path: str, headers: dict | None = None,
         source_ip: str | None = None, host: str = "127.0.0.1"):
    conn = http.client.HTTPConnection(host, server.port, timeout=5,
                                      source_address=(source_ip, 0) if source_ip else None)
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp, body


@pytest.fixture
def served():
    corpus = make_corpus()
    src = FakeSource([corpus])
    src.snap = playing_snapshot(corpus)
    server = ViewServer(src, port=0, period_s=0.1)
    server.start()
    yield server, src
    server.stop()


def test_server_serves_page_static_files_frame_and_thumbnails(served) -> None:
    server, _ = served
    assert server.url == f"http://127.0.0.1:{server.port}/" and server.token is None
    resp, body = _get(server, "/")
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/html")
    assert b'id="plot"' in body and b'id="thumbs"' in body and b"http" not in body.lower()
    assert "default-src 'none'" in resp.getheader("Content-Security-Policy")
    for name, ctype in (("view.js", "text/javascript"), ("view.css", "text/css")):
        resp, body = _get(server, f"/static/{name}")
        assert resp.status == 200 and resp.getheader("Content-Type").startswith(ctype)
        assert b"http://" not in body and b"https://" not in body  # no CDN, nothing remote
    for bad in ("/static/../server.py", "/static/%2e%2e/server.py", "/static/", "/nope"):
        assert _get(server, bad)[0].status == 404
    resp, body = _get(server, "/frame.jpg?n=7")
    im = Image.open(io.BytesIO(body))
    assert resp.status == 200 and im.format == "JPEG" and im.size == (320, 240)
    assert np.asarray(im)[120, 160, 0] > 150  # the red test frame
    resp, body = _get(server, "/keyframe/demo/3.jpg")
    assert resp.status == 200 and Image.open(io.BytesIO(body)).format == "JPEG"
    assert _get(server, "/keyframe/demo/5.jpg")[0].status == 404
    assert _get(server, "/keyframe/other/0.jpg")[0].status == 404
    resp, body = _get(server, "/state.json")
    assert json.loads(body)["corpus"]["name"] == "demo"


def test_events_stream_json_several_times_a_second(served) -> None:
    server, src = served
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/events")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/event-stream")
    events, t0 = [], time.monotonic()
    while len(events) < 4:
        line = resp.fp.readline()
        if line.startswith(b"data: "):
            events.append(json.loads(line[6:]))
            src.snap = dataclasses.replace(src.snap, frames_seen=src.snap.frames_seen + 1)
    elapsed = time.monotonic() - t0
    conn.close()
    assert elapsed < 2.0
    assert [e["seq"] for e in events] == sorted({e["seq"] for e in events})
    assert events[-1]["frame"] > events[0]["frame"]


def test_stop_ends_event_streams(served) -> None:
    server, _ = served
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/events")
    resp = conn.getresponse()
    resp.fp.readline()
    t0 = time.monotonic()
    server.stop()
    rest = resp.read()  # returns when the server ends the stream
    assert time.monotonic() - t0 < 2.0
    assert isinstance(rest, bytes)
    conn.close()


def test_too_many_viewers_get_503() -> None:
    src = FakeSource([make_corpus()])
    with ViewServer(src, port=0, period_s=0.1, max_streams=1) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/events")
        stream = conn.getresponse()  # keep it: a dropped response closes the connection
        assert stream.status == 200
        assert _get(server, "/events")[0].status == 503
        conn.close()


def test_dns_rebinding_host_is_refused(served) -> None:
    server, _ = served
    assert _get(server, "/", {"Host": f"evil.example:{server.port}"})[0].status == 403
    assert _get(server, "/", {"Host": f"localhost:{server.port}"})[0].status == 200


def test_port_in_use_is_a_clear_error(served) -> None:
    from appliance.view import ViewError

    server, src = served
    with pytest.raises(ViewError, match="--view-port"):
        ViewServer(src, port=server.port).start()
    with pytest.raises(ViewError, match="not a TCP port"):
        ViewServer(src, port=70000)
    with pytest.raises(ViewError, match="token"):
        ViewServer(src, port=0, token="a;b=c")


def test_a_failing_request_is_a_500_and_the_server_goes_on(served) -> None:
    server, src = served
    src.snap = dataclasses.replace(src.snap, frame=np.zeros((4, 4, 7), np.uint8), frames_seen=99)
    assert _get(server, "/frame.jpg?n=99")[0].status == 500
    assert _get(server, "/state.json")[0].status == 200


def non_loopback_ip() -> str | None:
    """An IPv4 address of this machine that is not loopback, or None."""
    candidates = []
    with contextlib.suppress(OSError):
        candidates.append(socket.gethostbyname(socket.gethostname()))
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True,
                             timeout=5).stdout
        for line in out.splitlines():  # "2: eth0    inet 192.168.1.5/24 brd ..."
            words = line.split()
            if "inet" in words[:-1]:
                candidates.append(words[words.index("inet") + 1].split("/")[0])
    for ip in candidates:
        if is_loopback_address(ip):
            continue
        try:  # usable as a source address here?
            with socket.socket() as s:
                s.bind((ip, 0))
            return ip
        except OSError:
            continue
    return None


NON_LOOPBACK = non_loopback_ip()
needs_lan_ip = pytest.mark.skipif(
    NON_LOOPBACK is None,
    reason="no non-loopback IPv4 address on this machine to connect from; "
           "test_access_decisions covers the rule")


@needs_lan_ip
def test_default_server_refuses_a_non_local_client(served, caplog) -> None:
    """Bound to 127.0.0.1 (the default), a client whose address is not loopback is refused.

    Linux lets a socket bound to this machine's LAN address connect to 127.0.0.1, so the
    server really sees a non-loopback peer address.
    """
    server, _ = served
    assert server.local_only
    with caplog.at_level("INFO", logger="appliance.view.server"):
        resp, body = _get(server, "/", source_ip=NON_LOOPBACK)
        assert resp.status == 403 and b"not on this device" in body
        assert _get(server, "/events", source_ip=NON_LOOPBACK)[0].status == 403
        assert _get(server, "/frame.jpg", source_ip=NON_LOOPBACK)[0].status == 403
    assert _get(server, "/")[0].status == 200  # while the device itself is served
    assert caplog.text.count(f"{NON_LOOPBACK} refused") == 1  # logged once, not per request


@needs_lan_ip
def test_network_bind_requires_the_logged_token(caplog) -> None:
    src = FakeSource([make_corpus()])
    src.snap = playing_snapshot(src.corpora[0])
    with caplog.at_level("INFO", logger="appliance.view.server"), \
            ViewServer(src, host="0.0.0.0", port=0, period_s=0.1) as server:
        token = server.token
        assert token and len(token) >= 16 and not server.local_only
        assert f"?token={token}" in caplog.text  # the full URL is in the log
        ip = NON_LOOPBACK

        def get(path, **kw):
            return _get(server, path, host=ip, source_ip=ip, **kw)

        assert get("/")[0].status == 403
        assert get("/?token=wrong")[0].status == 403
        assert _get(server, "/")[0].status == 403  # the device itself needs it too
        resp, _ = get(f"/?token={token}")
        assert resp.status == 200
        cookie = resp.getheader("Set-Cookie")
        assert cookie.startswith(f"soundscape_view_token={token}") and "HttpOnly" in cookie
        # The page's own requests carry the cookie.
        headers = {"Cookie": cookie.split(";")[0]}
        assert get("/static/view.js", headers=headers)[0].status == 200
        assert get("/frame.jpg?n=1", headers=headers)[0].status == 200


def test_configured_token_is_kept_and_required_on_loopback_too() -> None:
    src = FakeSource([make_corpus()])
    with ViewServer(src, port=0, token="abc123xyz") as server:
        assert server.url.endswith("/?token=abc123xyz")
        assert _get(server, "/")[0].status == 403
        assert _get(server, "/?token=abc123xyz")[0].status == 200


def test_the_engine_is_wrapped_in_an_adapter() -> None:
    from appliance.view import EngineAdapter

    class Engine:  # the attributes EngineAdapter reads
        def __init__(self) -> None:
            self.snapshot = Snapshot(corpus_index=0, corpus_name="demo")
            self.corpora = [make_corpus()]
            self.current_corpus = None

        class settings:
            block_size, sample_rate = 256, 48000

        class synth:
            @staticmethod
            def sounding_positions():
                raise RuntimeError("boom")  # a failure stays in the view

    server = ViewServer(Engine(), port=0)
    assert isinstance(server.source, EngineAdapter)
    assert server.source.block_s == pytest.approx(256 / 48000)
    assert server.source.corpus_at(0).name == "demo" and server.source.corpus_at(5) is None
    assert server.source.sounding_positions().size == 0
    assert build_event(server.source, 1)["corpus"]["name"] == "demo"


def test_view_threads_do_not_linger(served) -> None:
    server, _ = served
    before = {t.name for t in threading.enumerate()}
    assert "view" in before
    server.stop()
    time.sleep(0.3)
    assert "view" not in {t.name for t in threading.enumerate()}


def _silent_viewer(server: ViewServer) -> socket.socket:
    """A client that asks for the event stream and then never reads (a phone asleep)."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return s


def test_viewers_that_never_read_are_dropped_so_new_viewers_get_events() -> None:
    corpus = make_corpus()
    src = FakeSource([corpus])
    src.snap = playing_snapshot(corpus)
    with ViewServer(src, port=0, period_s=0.02) as server:  # events 16x faster than live
        waited = _drop_silent_viewers(server, src)
    print(f"silent viewers dropped within {waited:.1f} s at 50 events/s")


def _drop_silent_viewers(server: ViewServer, src) -> float:
    silent = [_silent_viewer(server) for _ in range(8)]  # every stream slot
    try:
        t0 = time.monotonic()
        while server.streams < 8:
            assert time.monotonic() - t0 < 5
            time.sleep(0.05)
        assert _get(server, "/events")[0].status == 503  # all eight slots are held
        while server.streams > 0:  # each silent viewer is dropped once its backlog is full
            src.snap = dataclasses.replace(src.snap, frames_seen=src.snap.frames_seen + 1)
            assert time.monotonic() - t0 < 60, f"{server.streams} silent viewers still served"
            time.sleep(0.2)
        waited = time.monotonic() - t0
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/events")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.fp.readline() == b"retry: 1000\n"
        conn.close()
        assert _get(server, "/")[0].status == 200
    finally:
        for s in silent:
            s.close()
    return waited
