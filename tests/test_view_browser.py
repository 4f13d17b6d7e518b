"""The live view in a real browser against a real running engine.

Headless Chromium (Debian's ``chromium``, driven by Python ``playwright`` pointed at
``/usr/bin/chromium``) loads the page served by a ViewServer attached to an Engine
whose camera is a slideshow of two demo photos of different scenes (a waterfall,
a cow). When the slideshow changes photo, the camera frame, the nearest-keyframe
thumbnails and the p(t) plot must all change, and the nearest scene must follow
the photo. Screenshots go to the test's tmp_path and to out/test-artifacts/.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from appliance import DEFAULT_MODEL, DEMO_MEDIA, PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync",
]
#: The slideshow: (photo, the world corpus' scene it belongs to).
PHOTOS = [
    (DEMO_MEDIA / "waterfall/waterfall_dam_spillway.jpg", "waterfall"),
    (DEMO_MEDIA / "farm/cow/cow.jpg", "farm"),
]
SECONDS_PER_IMAGE = 6.0
ARTIFACTS = PROJECT_ROOT / "out" / "test-artifacts"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(),
                       reason="needs Debian's chromium at /usr/bin/chromium "
                              "(apt-get install chromium)"),
    pytest.mark.skipif(not DEFAULT_MODEL.is_file(),
                       reason=f"needs the model {DEFAULT_MODEL} (scripts/build_model.py)"),
]

# The page's state, read in one go (hashes of pixels are taken in the page).
READ_PAGE = """() => {
  const sha = (s) => { let h = 0x811c9dc5;  // FNV-1a: enough to tell pictures apart
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
    return h.toString(16) + ":" + s.length; };
  const frame = document.getElementById("frame");
  let framePixels = null;
  if (frame.complete && frame.naturalWidth > 0) {
    const c = document.createElement("canvas");
    c.width = frame.naturalWidth; c.height = frame.naturalHeight;
    c.getContext("2d").drawImage(frame, 0, 0);
    framePixels = sha(c.toDataURL());
  }
  const thumbs = [...document.querySelectorAll("#thumbs li:not([hidden]) img")];
  const plot = document.getElementById("plot");
  return {
    seq: Number(document.body.dataset.seq || 0),
    frameSrc: frame.getAttribute("src"),
    frameN: Number(frame.dataset.n || -1),
    framePixels,
    thumbSrcs: thumbs.map((i) => i.getAttribute("src")),
    thumbsLoaded: thumbs.length > 0 && thumbs.every((i) => i.complete && i.naturalWidth > 0),
    thumbScenes: [...document.querySelectorAll("#thumbs li:not([hidden]) .scene")]
      .map((e) => e.textContent),
    thumbSides: [...document.querySelectorAll("#thumbs li:not([hidden]) .dist")]
      .map((e) => e.textContent.split(" · ").pop()),
    plotHash: sha(plot.toDataURL()),
    peakScene: plot.dataset.peakScene,
    plotLabel: plot.getAttribute("aria-label"),
    corpus: document.getElementById("corpus").textContent,
    state: document.getElementById("state").textContent,
    fps: document.getElementById("fps").textContent,
    frames: document.getElementById("frames").textContent,
    conn: document.getElementById("conn").textContent,
  };
}"""


@pytest.fixture
def running_engine():
    """The `world` corpus playing to a paced (silent, real-time) sink from a slideshow."""
    from appliance.app import load_corpora, make_embedder, make_settings
    from appliance.audio.paced import PacedSink
    from appliance.camera.simulated import SlideshowCamera
    from appliance.config import Config
    from appliance.cues import CueBank
    from appliance.engine import Engine
    from appliance.state import State

    config = Config.default()
    embedder = make_embedder(config)
    corpora = load_corpora(config, embedder, names=["world"]).corpora
    settings = make_settings(config, seed=1)
    sink = PacedSink(settings.sample_rate, settings.block_size,
                     sample_format=settings.sample_format)
    camera = SlideshowCamera([p for p, _ in PHOTOS], seconds_per_image=SECONDS_PER_IMAGE,
                             size=(640, 480))
    engine = Engine(settings, corpora, embedder, sink,
                    CueBank(settings.sample_rate, cache_dir=None, speak=False),
                    camera_opener=lambda: camera, state=State(corpus="world", volume=0.5))
    engine.start(announce_ready=False)
    try:
        yield engine, camera
    finally:
        engine.stop()


def _slot(camera) -> tuple[int, float]:
    """Index of the photo shown now and seconds since it appeared."""
    if not camera.is_open:
        return -1, 0.0
    t = camera.elapsed_s()
    return camera.index_at(t), t % SECONDS_PER_IMAGE


def _wait(what: str, cond, timeout_s: float, poll_s: float = 0.1):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def test_page_follows_the_slideshow(running_engine, tmp_path: Path) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs Python playwright (pip install playwright)")
    from appliance.view import ViewServer

    engine, camera = running_engine
    view = ViewServer(engine, port=0)
    view.start()
    problems: list[str] = []
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                         headless=True)
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.goto(view.url)
            read = lambda: page.evaluate(READ_PAGE)  # noqa: E731

            # Settled on one photo: at least 1.5 s into its slot, 1.5 s before the next.
            _wait("the first data", lambda: (s := read())["thumbsLoaded"] and s["framePixels"]
                  and s["peakScene"], 20)
            _wait("the middle of a slide", lambda: 1.5 <= _slot(camera)[1]
                  <= SECONDS_PER_IMAGE - 1.5, SECONDS_PER_IMAGE)
            index_a = _slot(camera)[0]
            time.sleep(0.5)  # one more event: thumbnails' images loaded
            a = _wait("thumbnails of the first photo", lambda: (s := read())["thumbsLoaded"]
                      and s, 5)
            page.screenshot(path=str(tmp_path / "view-before.png"), full_page=True)

            # The next photo, settled.
            _wait("the next slide", lambda: _slot(camera)[0] != index_a
                  and _slot(camera)[1] >= 1.5, 2 * SECONDS_PER_IMAGE)
            b = _wait("thumbnails of the next photo", lambda: (s := read())["thumbsLoaded"]
                      and s["frameN"] > a["frameN"] + 3 and s, 5)
            page.screenshot(path=str(tmp_path / "view.png"), full_page=True)
            browser.close()
    finally:
        view.stop()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name in ("view-before.png", "view.png"):
        shutil.copyfile(tmp_path / name, ARTIFACTS / name)

    scene_a, scene_b = PHOTOS[index_a][1], PHOTOS[1 - index_a][1]
    assert a["corpus"] == b["corpus"] == "world"
    assert a["conn"] == "live" and b["state"] == "playing"
    # The camera frame changed (another URL and other pixels).
    assert b["frameSrc"] != a["frameSrc"] and b["framePixels"] != a["framePixels"]
    # The thumbnails changed and show the photo's scene first.
    assert b["thumbSrcs"] != a["thumbSrcs"]
    assert a["thumbScenes"][0] == scene_a and b["thumbScenes"][0] == scene_b, (a, b)
    # Each says on which side its grains are heard.
    assert a["thumbSides"] and set(a["thumbSides"]) <= {"◀ left", "centre", "right ▶"}, a
    # The plot changed, and its peak moved to the new photo's scene.
    assert b["plotHash"] != a["plotHash"]
    assert (a["peakScene"], b["peakScene"]) == (scene_a, scene_b)
    assert scene_b in b["plotLabel"]
    # Vision that rests: frames are embedded (a new photo, the slow pan and zoom), not all.
    assert float(b["fps"]) >= 0.0  # embeddings per second (none while the view rests)
    seen = re.fullmatch(r"(\d+) of (\d+) \((\d+) %\)", b["frames"])
    assert seen and 0 < int(seen[1]) <= int(seen[2]), b["frames"]
    assert not problems, problems
    assert (tmp_path / "view.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_page_on_the_network_with_the_logged_token(tmp_path: Path) -> None:
    """Bound to every interface: the logged URL (with ?token=) works in a browser, including
    the page's own requests (the token travels in a cookie); the bare address is refused."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs Python playwright (pip install playwright)")
    from test_view import FakeSource, make_corpus, playing_snapshot

    from appliance.view import ViewServer

    src = FakeSource([make_corpus()])
    src.snap = playing_snapshot(src.corpora[0])
    with ViewServer(src, host="0.0.0.0", port=0) as view, sync_api.sync_playwright() as pw:
        assert "?token=" in view.url
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                     headless=True)
        page = browser.new_page()
        bare = view.url.split("?", 1)[0]
        assert page.goto(bare).status == 403
        assert page.goto(view.url).status == 200
        state = _wait("data in the page", lambda: (s := page.evaluate(READ_PAGE))["seq"] > 1
                      and s["thumbsLoaded"] and s, 10)
        browser.close()
    assert state["corpus"] == "demo" and state["thumbsLoaded"] and state["framePixels"]
    assert state["peakScene"] == "waterfall"
