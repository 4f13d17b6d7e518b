"""``soundscape run``, ``render`` and ``demo``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from appliance import DEMO_MEDIA, DEMO_VIEWS, PROJECT_ROOT
from appliance import systemd_notify as sd
from appliance.app import build_engine, load_corpora, make_cues, make_embedder, make_settings
from appliance.camera.base import DEFAULT_FRAME_SIZE
from appliance.config import DEFAULT_CONFIG_PATH, Config, load_config
from appliance.corpus import Matcher
from appliance.engine import Engine
from appliance.errors import ControlsError, SoundscapeError
from appliance.state import State
from appliance.synth.volume import REFERENCE_LUFS
from appliance.vision.images import side_by_side

log = logging.getLogger(__name__)

#: Signals that stop ``soundscape run`` the orderly way (fade, terminal restored).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

#: The demo's slideshow: new views (corpora/views), none of them a keyframe of the corpus
#: it plays: a harbour, farmland, dusk and rain it has never seen, then a kitchen, a place
#: the corpus has no sound for, which should sound like "somewhere".
DEMO_PHOTOS = tuple(sorted(p.name for p in DEMO_VIEWS.glob("*.jpg")))
#: The demo's last view: a cow on the left beside a waterfall on the right, so that with
#: headphones the sound is heard following where things are in the picture.
DEMO_SIDE_BY_SIDE = ("farm/cow/cow.jpg", "waterfall/waterfall_dam_spillway.jpg")


def view_name(photo: Path) -> str:
    """What a demo view shows, from its file name: ``3_night_dusk_field_trees.jpg`` → "night
    (dusk field trees)"; ``5_somewhere_kitchen.jpg`` → "somewhere (kitchen)"."""
    words = photo.stem.split("_")[1:]
    return f"{words[0]} ({' '.join(words[1:])})" if len(words) > 1 else " ".join(words)


def _config(args: argparse.Namespace) -> Config:
    path = getattr(args, "config", None)
    if path is None:
        return load_config(DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None)
    return load_config(Path(path))


# ------------------------------------------------------------------ render
def _simulated_camera(input_path: Path, config: Config, seconds_per_image: float | None):
    from appliance.camera.simulated import SlideshowCamera, VideoFileCamera
    from appliance.vision.images import IMAGE_SUFFIXES

    size = (config.camera.width, config.camera.height)
    pace = seconds_per_image or config.camera.slideshow_seconds
    if input_path.is_dir():
        return SlideshowCamera(input_path, seconds_per_image=pace, size=size)
    if input_path.suffix.lower() in IMAGE_SUFFIXES:
        return SlideshowCamera([input_path], seconds_per_image=pace, size=size)
    if not input_path.exists():
        raise SoundscapeError(f"input {input_path} not found")
    return VideoFileCamera(input_path)


@dataclass(frozen=True)
class RenderResult:
    """What an offline render produced: files, and what was heard (seconds, masses)."""

    wav: Path
    png: Path
    scene_masses: dict[str, float]  # mean p mass per scene over the vision frames
    grain_starts_s: np.ndarray  # corpus positions of the last grains (up to 4096)


def render(
    config: Config,
    camera,
    corpus_name: str,
    seconds: float,
    out_wav: Path,
    seed: int,
) -> RenderResult:
    """Render ``seconds`` of soundscape for ``camera`` to ``out_wav`` and a PNG beside it.

    The file sits at the broadcast reference (-23 LUFS, EBU R128) at gain 1, not at the
    box's full volume (-14 LUFS), and the player's own volume does the rest.
    """
    from appliance.audio.wav import WavSink
    from appliance.plot import plot_probability

    embedder = make_embedder(config)
    corpora = load_corpora(config, embedder, names=[corpus_name]).corpora
    settings = make_settings(config, seed=seed)
    # A file sits at the broadcast reference at gain 1, not at the box's full volume.
    settings.params = replace(settings.params, target_lufs=REFERENCE_LUFS)
    out_wav = Path(out_wav)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    sink = WavSink(out_wav, settings.sample_rate, settings.block_size, settings.sample_format)
    engine = Engine(settings, corpora, embedder, sink, make_cues(settings.sample_rate),
                    state=State(volume=1.0))
    rows: list = []
    labels: list[str] = []

    def record(t: float, p) -> None:
        rows.append((t, p.copy()))
        labels.append(camera.label_at(t))

    engine.render_offline(camera, seconds, sink, on_vision=record)
    corpus = corpora[0]
    png = plot_probability(
        out_wav.with_suffix(".png"),
        rows,
        corpus.keyframe_times,
        corpus.duration_s,
        corpus.scene_spans(),
        row_labels=labels,
        title=f"{corpus.name}: p over the timeline for each camera frame (seed {seed})",
    )
    mean_p = np.mean([p for _, p in rows], axis=0)
    masses = Matcher(corpus).scene_masses(mean_p)
    return RenderResult(out_wav, png, masses, engine.synth.recent_grain_starts())


def _masses_text(masses: dict[str, float]) -> str:
    top = sorted(masses.items(), key=lambda kv: -kv[1])[:3]
    return ", ".join(f"{name} {100 * m:.0f}%" for name, m in top)


def cmd_render(args: argparse.Namespace) -> int:
    config = _config(args)
    camera = _simulated_camera(Path(args.input), config, args.seconds_per_image)
    t0 = time.perf_counter()
    result = render(config, camera, args.corpus, args.seconds, Path(args.output), args.seed)
    took = time.perf_counter() - t0
    print(f"Rendered {args.seconds:.0f} s in {took:.1f} s: {result.wav}")
    print("Heard mostly: " + _masses_text(result.scene_masses))
    print(f"What was heard, as a picture: {result.png}")
    return 0


# --------------------------------------------------------------------- run
def _attach_controls(engine: Engine, config: Config) -> list:
    controls = []
    if config.buttons.enabled:
        from appliance.controls.buttons import ButtonControls

        try:
            controls.append(ButtonControls.from_config(config.buttons, engine.actions.put))
        except ControlsError as exc:
            log.warning("buttons unavailable (%s); keyboard only", exc)
    if sys.stdin is not None and sys.stdin.isatty():
        from appliance.controls.keyboard import KeyboardControls

        kb = KeyboardControls(engine.actions.put)
        print(kb.help_text(), flush=True)
        controls.append(kb)
    return controls


def start_view(engine: Engine, config: Config, enabled: bool = False, port: int | None = None):
    """The live view when asked for (``--view``, ``--view-port`` or ``view.enabled``), else None.

    A view that cannot start (port taken) is logged, never fatal: the sound comes first.
    """
    if not (enabled or port is not None or config.view.enabled):
        return None
    from appliance.view import ViewError, ViewServer

    try:
        view = ViewServer(
            engine, host=config.view.bind, port=config.view.port if port is None else port
        )
        view.start()  # logs the URL (with ?token= when bound to the network)
    except ViewError as exc:
        log.error("%s", exc)
        return None
    return view


def run_engine(
    engine: Engine,
    config: Config,
    problems: list[str],
    seconds: float | None,
    view: bool = False,
    view_port: int | None = None,
    device: str = "auto",
) -> int:
    """Start ``engine``, serve its controls until a signal, a QUIT or ``seconds``, stop it.
    ``device``: the audio spec to say a failure to start on (no corpus can play)."""
    def on_signal(signum, _frame) -> None:
        log.info("signal %d: stopping", signum)
        engine.request_stop()

    # The same orderly stop for each: the sound fades out, the terminal is restored (the
    # keyboard's raw mode), the state is already saved. SIGHUP: the terminal went away
    # or someone asked; either way, not an abrupt exit in -echo -icanon.
    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    # Rendered before the sound starts, like every other cue (see Engine._warm_cues).
    problem_cues = [engine.cues.phrase("problem", text=text) for text in problems]
    try:
        engine.start()
    except SoundscapeError as exc:  # no corpus can play: say so, on the card it would use
        from appliance.fatal import announce_fatal

        engine.sink.close()
        sd.status(f"cannot start: {exc}")
        announce_fatal(exc, device)
        raise
    live_view = start_view(engine, config, view, view_port)
    watchdog = sd.Watchdog(engine.healthy)

    def tell_systemd_when_playing() -> None:
        # READY=1 only once the kernels are loaded and the first block was written.
        if sd.wait_for_first_block(lambda: engine.last_block_at > 0, stop=engine.stop_event):
            sd.ready(f"playing {engine.state.corpus}")
            watchdog.start()

    threading.Thread(target=tell_systemd_when_playing, name="sd-ready", daemon=True).start()
    for cue in problem_cues:
        engine.mixer.play(cue, supersede=False)
    controls = _attach_controls(engine, config)
    timer = None
    if seconds is not None:  # a daemon: a signal's stop is not held up until it fires
        timer = threading.Timer(seconds, engine.request_stop)
        timer.daemon = True
        timer.start()
    try:
        engine.serve()
    finally:
        if timer is not None:
            timer.cancel()
        sd.stopping()
        watchdog.stop()
        if live_view is not None:
            live_view.stop()
        engine.stop()
        for c in controls:
            c.close()
    if engine.failure is not None:  # non-zero: systemd restarts the service (5 s)
        raise SoundscapeError(f"the audio loop failed: {engine.failure!r}; see the log above")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from appliance.fatal import announce_fatal

    device = args.output or "auto"
    try:
        config = _config(args)
        device = args.output or config.audio.device
        sd.status("starting: model, corpora, synthesizer")
        engine, problems = build_engine(config, args.output, args.camera)
    except SoundscapeError as exc:
        # No screen on the box: say why before giving up (the CLI prints the details).
        sd.status(f"cannot start: {exc}")
        announce_fatal(exc, device)
        raise
    return run_engine(engine, config, problems, args.seconds, args.view, args.view_port,
                      device=device)


# -------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    from appliance.audio.factory import sound_card_present
    from appliance.camera.simulated import SlideshowCamera

    config = _config(args)
    photos = [DEMO_VIEWS / p for p in DEMO_PHOTOS]
    if sound_card_present() and not args.render:
        print("Playing live from a slideshow of new views (Ctrl-C to stop).")
        engine, problems = build_engine(config, camera_spec=f"slideshow:{DEMO_VIEWS}")
        return run_engine(engine, config, problems, args.seconds)
    print("No sound card here: rendering the demo to a WAV file and a picture instead.")
    left, right = (DEMO_MEDIA / p for p in DEMO_SIDE_BY_SIDE)
    photos.append(side_by_side(left, right, Path(args.output_dir) / "demo-side-by-side.jpg"))
    camera = SlideshowCamera(
        photos, seconds_per_image=args.seconds / len(photos), size=DEFAULT_FRAME_SIZE, loop=False
    )
    out = Path(args.output_dir) / "demo.wav"
    t0 = time.perf_counter()
    result = render(config, camera, "world", args.seconds, out, args.seed)
    wav, png = result.wav, result.png
    seen = [view_name(p) for p in photos[:-1]]
    print(
        f"Done in {time.perf_counter() - t0:.1f} s. The camera saw, in turn: "
        + ", ".join(seen)
        + ", then a cow on the left beside a waterfall on the right (use headphones: "
        "the cows are heard on the left)"
    )
    print(f"Listen:  {wav}\nLook:    {png}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the appliance: camera, sound card and buttons")
    p.add_argument("--config", type=Path, help=f"config file (default {DEFAULT_CONFIG_PATH})")
    p.add_argument("--camera", help="camera spec, overrides the config (e.g. slideshow:DIR)")
    p.add_argument("--output", help="audio output spec, overrides the config (e.g. wav:out.wav)")
    p.add_argument("--seconds", type=float, help="stop after this many seconds")
    p.add_argument(
        "--view",
        action="store_true",
        help="serve the live view web page (default http://127.0.0.1:8080/; "
        "see [view] in the config)",
    )
    p.add_argument(
        "--view-port",
        type=int,
        metavar="PORT",
        help="port of the live view (implies --view; default: view.port)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("render", help="the same pipeline offline, to a WAV and a PNG")
    p.add_argument("--input", required=True, help="video file, image, or folder of images")
    p.add_argument("--corpus", default="world", help="corpus name or directory")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--seconds-per-image", type=float, help="slideshow pace for images")
    p.add_argument("-o", "--output", default="out/render.wav")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--config", type=Path)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser(
        "demo", help="the main job on the demo material (no camera or sound card needed)"
    )
    p.add_argument("--seconds", type=float, default=42.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--render", action="store_true", help="render to files even with a sound card")
    p.add_argument("--output-dir", default=str(PROJECT_ROOT / "out"))
    p.add_argument("--config", type=Path)
    p.set_defaults(func=cmd_demo)
