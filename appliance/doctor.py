"""``soundscape doctor``: what is wrong with this box, in words, with how to fix each thing.

Meant for the person who built the box, or a helper on the phone with a
blind user: one command lists every check (configuration, service, camera,
sound card, GPIO buttons, speech, TFLite runtime, model, corpora, Numba
cache) as ``OK`` or ``PROBLEM``, each problem followed by a line saying how
to fix it, then a summary. ``--speak`` reads the summary and each problem
aloud with espeak-ng; ``--json`` prints one JSON object instead.

Missing hardware is a problem but not *fatal*: the appliance has a fallback
for each (the demo slideshow instead of a camera, a WAV file instead of a
sound card, the keyboard instead of buttons). Fatal problems are the ones
that stop ``soundscape run``: an unreadable configuration, no TFLite
runtime, a missing or broken model, no usable corpus, no place for Numba's
cache. The exit code is 1 when there is a fatal problem, else 0.

Every check catches its own errors: the doctor itself never crashes.
"""

from __future__ import annotations

import argparse
import dataclasses
import grp
import importlib.metadata
import importlib.util
import json
import logging
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from appliance import DEFAULT_MODEL, MODELS_DIR, PROJECT_ROOT
from appliance.config import DEFAULT_CONFIG_PATH, Config, load_config
from appliance.errors import SoundscapeError

log = logging.getLogger(__name__)

#: Where scripts/install-pi puts the unit, and the user it runs as.
INSTALLED_UNIT = Path("/etc/systemd/system/soundscape.service")
SERVICE = "soundscape.service"
SERVICE_USER = "soundscape"
#: The file that publishes the model's sha256 (a line ``sha256: <hex>``).
MODEL_README = MODELS_DIR / "README.md"
#: systemd's specifiers for a system unit that the doctor expands.
_SPECIFIERS = {"%C": "/var/cache", "%S": "/var/lib", "%t": "/run", "%L": "/var/log", "%%": "%"}

#: More builds of the render kernel than this in the cache means Numba misses it.
PILED_UP_BUILDS = 8

_SHA_LINE = re.compile(r"^\W*sha256\W*[:=]\W*([0-9a-fA-F]{64})\b", re.MULTILINE)
_FIX_SPLIT = re.compile(
    r";\s*((?:re)?build (?:it|one) with|rebuild with|install it with|fix):\s*", re.IGNORECASE
)


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report.

    ``name``: what was checked ("camera"). ``ok``: no problem. ``detail``:
    what was found, in words. ``fix``: one line saying how to fix it (empty
    when ok). ``fatal``: the appliance cannot run until it is fixed.
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    fatal: bool = False


def _ok(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def _problem(name: str, detail: str, fix: str, fatal: bool = False) -> Check:
    return Check(name, False, detail, fix, fatal)


def _split_fix(message: str, default_fix: str) -> tuple[str, str]:
    """Split an error message "what; rebuild with: how" into (what, how)."""
    parts = _FIX_SPLIT.split(message, maxsplit=1)
    if len(parts) == 3:
        return parts[0].strip(), parts[2].strip()
    return message.strip(), default_fix


def _on_installed_box() -> bool:
    return Path("/opt/soundscape") == PROJECT_ROOT or INSTALLED_UNIT.is_file()


def _as_service(command: str) -> str:
    """``command`` as the service user would run it (for fix lines on an installed box)."""
    if not _on_installed_box():
        return command
    env = " ".join(
        f"{k}={os.environ[k]}"
        for k in ("NUMBA_CACHE_DIR", "SOUNDSCAPE_CACHE", "SOUNDSCAPE_CORPORA")
        if os.environ.get(k)
    )
    return f"sudo -u {SERVICE_USER} env {env} {command}".replace("  ", " ")


def _venv_python() -> str:
    return sys.executable or "python3"


# ------------------------------------------------------------------ config
def check_config(path: Path | None) -> tuple[Check, Config]:
    """Parse the configuration; a missing *default* file means all defaults (OK)."""
    explicit = path is not None
    where = Path(path) if explicit else DEFAULT_CONFIG_PATH
    if not explicit and not where.exists():
        return (
            _ok("configuration", f"{where} does not exist: every setting has its default"),
            Config.default(),
        )
    try:
        config = load_config(where)
    except SoundscapeError as exc:
        return (
            _problem(
                "configuration",
                str(exc),
                f"correct {where} (every key is explained in {PROJECT_ROOT}/config.example.toml), "
                "or move it away to use the defaults",
                fatal=True,
            ),
            Config.default(),
        )
    return _ok("configuration", f"{where} is valid"), config


# ----------------------------------------------------------------- service
def systemd_running() -> bool:
    """Whether this machine was booted with systemd (and systemctl can talk to it)."""
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def _systemctl(*args: str) -> str:
    try:
        proc = subprocess.run(
            ["systemctl", *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({exc})"
    return proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else ""


def unit_groups(unit: Path = INSTALLED_UNIT) -> list[str]:
    """The groups ``SupplementaryGroups=`` names in ``unit`` and its drop-ins (last reset wins)."""
    files = [unit, *sorted(Path(f"{unit}.d").glob("*.conf"))]
    groups: list[str] = []
    for file in files:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, value = line.strip().partition("=")
            if key.strip() == "SupplementaryGroups":
                groups = [] if not value.strip() else groups + value.split()
    return groups


def check_service() -> Check:
    """``systemctl is-active soundscape`` when systemd runs here."""
    name = "service"
    if not systemd_running():
        where = "installed" if INSTALLED_UNIT.is_file() else "not installed"
        return _ok(name, f"not running under systemd (container or no init); the unit is {where}")
    missing = []
    for group in unit_groups():
        try:
            grp.getgrnam(group)
        except KeyError:
            missing.append(group)
    if missing:
        return _problem(
            name,
            f"the unit asks for group(s) {', '.join(missing)}, which do not exist: "
            "the service cannot start",
            "run the installer again (sudo /opt/soundscape/scripts/install-pi), "
            f"or create them: sudo groupadd --system {missing[0]}",
            fatal=True,
        )
    state = _systemctl("is-active", SERVICE)
    enabled = _systemctl("is-enabled", SERVICE)
    if not INSTALLED_UNIT.is_file() and enabled in ("", "not-found"):
        return _problem(
            name, f"{SERVICE} is not installed: nothing starts the appliance at boot",
            "install it with: sudo scripts/install-pi (from a copy of the project)",
        )
    boot = "starts at boot" if enabled == "enabled" else f"does NOT start at boot ({enabled})"
    if state == "active":
        return _ok(name, f"{SERVICE} is running and {boot}")
    if state in ("activating", "reloading"):
        return _ok(name, f"{SERVICE} is starting (a first start compiles for minutes); {boot}")
    fix = (
        "see why with: journalctl -u soundscape -b -n 50; then: "
        "sudo systemctl reset-failed soundscape; sudo systemctl restart soundscape"
        if state == "failed"
        else "start it with: sudo systemctl enable --now soundscape"
    )
    return _problem(name, f"{SERVICE} is {state or 'unknown'} and {boot}", fix)


# ------------------------------------------------------------------ camera
def check_camera(config: Config) -> Check:
    """Cameras found (nothing is opened); none is not fatal: the demo slideshow stands in."""
    from appliance.camera.factory import detect_cameras, v4l2_nodes

    name = "camera"
    source = config.camera.source.strip()
    kind = source.partition(":")[0].lower()
    if kind in ("slideshow", "video"):
        return _ok(name, f"the configuration uses a simulated camera: {source}")
    found = detect_cameras()
    if found:
        chosen = "" if kind == "auto" else f"; the configuration asks for {source}"
        missing = kind != "auto" and not any(line.startswith(kind) for line in found)
        detail = f"{len(found)} found: " + "; ".join(found) + chosen
        if missing:
            return _problem(
                name, detail + ", which was not found",
                'set [camera] source = "auto" or one of the specs listed, in the configuration',
            )
        return _ok(name, detail)
    denied = [n.path for n in v4l2_nodes() if n.capture is None and n.query_error]
    if denied:
        return _problem(
            name,
            f"video devices exist ({', '.join(denied)}) but cannot be opened by this user; "
            "the demo slideshow is shown to the model instead",
            f"add the user to group video: sudo usermod -aG video {_user()} (then log in again)",
        )
    return _problem(
        name,
        "no camera found: the appliance will show the model the demo slideshow instead",
        "connect a Raspberry Pi camera module (ribbon cable, power off first) or a USB webcam; "
        "check with: rpicam-hello --list-cameras, or ls /dev/video*",
    )


def _user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


# ------------------------------------------------------------------- sound
def _sound_cards() -> list[str]:
    """The kernel's sound cards, one line each (the audio engineer's helper when present)."""
    try:
        from appliance.audio.alsa import proc_asound_cards
    except ImportError:  # pragma: no cover - the module ships with the package
        try:
            text = Path("/proc/asound/cards").read_text(errors="replace")
        except OSError:
            return []
        return [line.strip() for line in text.splitlines() if re.match(r"\s*\d+\s+\[", line)]
    return proc_asound_cards()


def sound_card_present() -> bool:
    """Whether the kernel lists at least one sound card."""
    try:
        from appliance.audio.factory import sound_card_present as present
    except ImportError:
        return bool(_sound_cards())
    try:
        return bool(present())
    except Exception:
        return bool(_sound_cards())


def _card_of(pcm: str) -> str | None:
    """The card a PCM name points at (``hw:1``, ``plughw:CARD=Device,DEV=0``), or None."""
    match = re.match(r"^(?:plug)?hw:(?:CARD=)?([^,]+)", pcm)
    return match.group(1) if match else None


def check_sound(config: Config) -> Check:
    """ALSA cards and the PCM the configuration will open."""
    name = "sound card"
    device = config.audio.device.strip()
    cards = _sound_cards()
    if device.startswith("wav:") or device == "paced":
        return _ok(name, f"the configuration sends no sound to a card ({device}); "
                         f"{len(cards)} card(s) present")
    pcm = device.partition(":")[2] if device.startswith("alsa:") else "default"
    if not cards:
        return _problem(
            name,
            "no sound card found: the appliance would write its sound to a WAV file "
            "instead of playing it",
            "plug in a USB sound card (DAC) or headphones, or enable the I2S hat in "
            "/boot/firmware/config.txt; check with: aplay -l",
        )
    listing = "; ".join(cards)
    if importlib.util.find_spec("alsaaudio") is None:
        from appliance.audio.alsa import PYALSAAUDIO_FIX

        return _problem(
            name, f"{listing}; but pyalsaaudio is missing, so the sound would go to a WAV file",
            PYALSAAUDIO_FIX,
        )
    card = _card_of(pcm)
    if card is not None:
        ids = {c.split()[1] for c in cards} | {
            c.split("[", 1)[1].split("]", 1)[0].strip() for c in cards if "[" in c
        }
        if card not in ids:
            return _problem(
                name, f"{listing}; the configuration opens {pcm}, but there is no card {card}",
                'list the cards with: aplay -l, then set [audio] device = '
                '"alsa:plughw:CARD=<name>" in the configuration',
            )
    snd = Path("/dev/snd")
    controls = sorted(snd.glob("controlC*")) if snd.is_dir() else []
    if controls and not os.access(controls[0], os.R_OK | os.W_OK):
        return _problem(
            name, f"{listing}; but this user may not open /dev/snd",
            f"add the user to group audio: sudo usermod -aG audio {_user()} (then log in again)",
        )
    return _ok(name, f"{listing}; the appliance opens ALSA device {pcm!r}")


# -------------------------------------------------------------------- gpio
def _gpio_reason(status: str) -> str:
    """gpiozero's long fallback chain, shortened to what a person can act on."""
    reasons = []
    if "No module named 'lgpio'" in status:
        reasons.append("lgpio is not installed")
    if "unable to locate Pi revision" in status or "not a Raspberry Pi" in status.lower():
        reasons.append("this does not look like a Raspberry Pi")
    if "gpiozero is not installed" in status:
        reasons.append("gpiozero is not installed")
    if "ermission" in status:
        reasons.append("permission denied on /dev/gpiochip*")
    if not reasons:
        reasons.append(status.removeprefix("unavailable, ").split(" (")[0])
    return "; ".join(reasons)


def check_gpio(config: Config) -> Check:
    """GPIO availability and pin factory (via :func:`gpio_status`)."""
    from appliance.controls.buttons import gpio_status

    name = "GPIO buttons"
    if not config.buttons.enabled:
        return _ok(name, "buttons are switched off in the configuration ([buttons] enabled)")
    pins = ", ".join(f"{role}=GPIO{pin}" for role, pin in config.pins.items())
    status = gpio_status().removeprefix("GPIO: ")
    if status.startswith(("unavailable", "unknown")):
        return _problem(
            name,
            f"no GPIO ({_gpio_reason(status)}); the buttons ({pins}) will not work",
            "on a Raspberry Pi: sudo apt install python3-lgpio (or pip install lgpio in the "
            "appliance's venv) and make sure the user is in group gpio; "
            "elsewhere, use the keyboard in a terminal",
        )
    return _ok(name, f"{status}; buttons on {pins}")


# ------------------------------------------------------------------ speech
def check_speech() -> Check:
    """espeak-ng speaks every state change; without it the user only hears tones."""
    from appliance.cues import espeak_available

    if espeak_available():
        return _ok("speech", f"espeak-ng found ({shutil.which('espeak-ng')})")
    return _problem(
        "speech", "espeak-ng is not installed: button presses give tones but no words",
        "sudo apt install espeak-ng",
    )


# ------------------------------------------------------------- tflite, model
_RUNTIME_DISTRIBUTIONS = {
    "ai_edge_litert": ("ai-edge-litert",),
    "tflite_runtime": ("tflite-runtime",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-aarch64"),
}


def _version(distributions: Iterable[str]) -> str:
    for dist in distributions:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "version unknown"


def check_runtime() -> Check:
    """Which TFLite runtime imports (ai-edge-litert, tflite-runtime, TensorFlow) and its version."""
    from appliance.vision.runtime import find_interpreter_class

    try:
        runtime, _ = find_interpreter_class()
    except SoundscapeError as exc:
        return _problem(
            "TFLite runtime", str(exc).split("; tried:")[0] + ": the image model cannot run",
            f"{_venv_python()} -m pip install ai-edge-litert", fatal=True,
        )
    version = _version(_RUNTIME_DISTRIBUTIONS.get(runtime, (runtime,)))
    return _ok("TFLite runtime", f"{runtime} {version}")


def published_model_sha256(readme: Path = MODEL_README) -> str | None:
    """The sha256 ``models/README.md`` publishes for the model (a ``sha256: <hex>`` line)."""
    try:
        text = readme.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = _SHA_LINE.search(text)
    return match.group(1).lower() if match else None


def check_model(config: Config) -> tuple[Check, str | None]:
    """The model file: exists, sha256 as published, loads with the Embedder.

    Returns the check and the model's sha256 (None when the model is unusable).
    """
    from appliance.corpus.model_id import model_sha256

    name = "model"
    path = config.model.resolved_path()
    rebuild = f"rebuild it with: {_venv_python()} {PROJECT_ROOT}/scripts/build_model.py " \
              "(see models/README.md)"
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        fix = rebuild if path == DEFAULT_MODEL else \
            f'correct [model] path in the configuration (now "{config.model.path}"), or {rebuild}'
        return _problem(name, f"model file {path} {what}: nothing can be recognised", fix,
                        fatal=True), None
    try:
        sha = model_sha256(path)
    except (SoundscapeError, OSError) as exc:
        return _problem(name, f"model file {path} cannot be read ({exc})",
                        f"check its permissions, or {rebuild}", fatal=True), None
    try:
        from appliance.vision.embedder import Embedder

        embedder = Embedder(path, num_threads=1)
    except SoundscapeError as exc:
        detail, fix = _split_fix(str(exc), rebuild)
        return _problem(name, detail, fix, fatal=True), None
    size_mb = path.stat().st_size / 1e6
    loaded = f"{path} ({size_mb:.0f} MB, sha256 {sha[:12]}…) loads with {embedder.runtime}"
    published = published_model_sha256()
    if published is None:
        return _ok(name, f"{loaded}; {MODEL_README} publishes no sha256 to compare with"), sha
    if sha != published:
        return _problem(
            name,
            f"{loaded}, but it is not the published model (sha256 {published[:12]}… in "
            f"{MODEL_README.name}): corpora built for the published model will not match",
            f"{rebuild}, or keep it and rebuild your corpora with it",
        ), sha
    return _ok(name, f"{loaded}; matches models/README.md"), sha


# ----------------------------------------------------------------- corpora
def _corpus_fix(path: Path) -> str:
    return (f"rebuild it: soundscape corpus build SOURCE -o {path}, or take it out of "
            "[corpora] order in the configuration")


#: Folders the service cannot see (ProtectHome=yes, PrivateTmp=yes in the unit).
HIDDEN_FROM_SERVICE = (Path("/home"), Path("/root"), Path("/run/user"), Path("/tmp"),
                       Path("/var/tmp"))


def hidden_from_service(path: Path) -> bool:
    """Whether the installed service cannot read ``path`` (home folders, its own /tmp)."""
    resolved = Path(os.path.abspath(path))
    return any(resolved == h or h in resolved.parents for h in HIDDEN_FROM_SERVICE)


def _hidden_problem(what: str, path: Path) -> Check:
    return _problem(
        what, f"{path} is in a folder the service cannot see (home folders and /tmp are "
        "hidden from it)",
        f"move it to /var/lib/soundscape/corpora: sudo mv {path} /var/lib/soundscape/corpora/",
    )


def check_corpora(config: Config, model_sha: str | None) -> list[Check]:
    """Each configured corpus resolves and loads with the model's sha256."""
    from appliance.corpus import library, load_corpus
    from appliance.corpus.library import cache_dir, demo_manifests, is_fresh
    from appliance.errors import CorpusError

    demos = demo_manifests()
    known = library()
    wanted: list[str] = list(config.corpora.order)
    checks: list[Check] = []
    built = cache_dir()
    if not _readable_dir(built):
        return [_problem(
            "corpora", f"{built} cannot be read by {_user()}, so the corpora cannot be checked",
            "check as root, which sees what the service sees: sudo soundscape doctor",
        )]
    service = INSTALLED_UNIT.is_file()
    if config.corpora.dir:
        user_dir = Path(config.corpora.dir).expanduser()
        if service and hidden_from_service(user_dir):
            checks.append(_hidden_problem("corpora folder", user_dir))
        if user_dir.is_dir():
            wanted += [str(p) for p in sorted(user_dir.iterdir()) if p.is_dir()]
        else:
            checks.append(_problem(
                "corpora folder", f"[corpora] dir = {user_dir} does not exist",
                f"create it (sudo mkdir -p {user_dir}) and copy your corpora into it, "
                'or set dir = "" in the configuration',
            ))
    usable: list[str] = []
    unbuilt: list[str] = []
    for name in wanted:
        label = Path(name).name
        if name in demos:
            directory = known[name]
            if model_sha is not None and is_fresh(directory, demos[name], model_sha):
                try:
                    load_corpus(directory, model_sha256=model_sha)
                    usable.append(label)
                    continue
                except CorpusError:
                    pass
            unbuilt.append(label)
            continue
        path = known.get(name, Path(name).expanduser())
        if service and hidden_from_service(path):
            checks.append(_hidden_problem(f"corpus {label}", path))
            continue
        try:
            load_corpus(path, model_sha256=model_sha)
            usable.append(label)
        except CorpusError as exc:
            detail, fix = _split_fix(str(exc), _corpus_fix(path))
            if "soundscape corpus build" in fix and "take it out" not in fix:
                fix = f"{fix} (or take it out of [corpora] order in the configuration)"
            checks.append(_problem(f"corpus {label}", detail, fix))
    if unbuilt:
        if model_sha is None:
            checks.append(_problem(
                "demo corpora", f"{', '.join(unbuilt)} cannot be built without the model",
                "fix the model first",
            ))
        else:
            build = _as_service(
                f"{_venv_python()} -c 'from appliance.corpus import ensure_demo_corpora; "
                "from appliance.vision.embedder import Embedder; "
                "ensure_demo_corpora(Embedder())'"
            )
            checks.append(_problem(
                "demo corpora",
                f"{', '.join(unbuilt)} not built yet in {cache_dir()}: the next start builds "
                "them first (a few minutes on a Pi 4, in silence)",
                f"build them now: {build}",
            ))
    will_play = len(usable) + (len(unbuilt) if model_sha is not None else 0)
    if will_play == 0 and model_sha is None:
        pass  # the model check already says the appliance cannot run
    elif will_play == 0:
        checks.insert(0, _problem(
            "corpora", "no usable corpus: there is nothing to play",
            'fix the corpora below, or restore the default [corpora] order '
            '(woods_and_water, night, farm, harbour, world)',
            fatal=True,
        ))
    elif usable:
        checks.insert(0, _ok("corpora", f"{len(usable)} ready: {', '.join(usable)}"))
    return checks


# ------------------------------------------------------------- numba cache
def synth_cache_subdir() -> str:
    """The folder Numba caches the synthesizer's kernels in, below ``NUMBA_CACHE_DIR``.

    Numba names it after the source folder: ``<parent name>_<sha1 of its path>``.
    """
    import hashlib

    import appliance.synth

    source = str(Path(appliance.synth.__file__).resolve().parent)
    return f"{Path(source).name}_{hashlib.sha1(source.encode()).hexdigest()}"


def _readable_dir(path: Path) -> bool:
    """False when ``path`` exists (or may) but this user may not list it; missing is fine."""
    try:
        path.stat()
    except PermissionError:
        return False
    except OSError:
        return True
    return not path.is_dir() or os.access(path, os.R_OK | os.X_OK)


def _writable_dir(path: Path) -> bool:
    """Whether ``path`` is (or, missing, could be created as) a folder this user can write."""
    probe = path
    try:
        while not probe.exists():
            if probe.parent == probe:
                return False
            probe = probe.parent
    except PermissionError:  # a parent this user may not search
        return False
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def kernel_cache_state(cache_root: Path) -> tuple[bool, str]:
    """(cached, words) for the synth's render kernel below ``cache_root``.

    Reads no pickle: the Numba version is looked up in the index file's
    header, and freshness is judged by modification times.
    """
    import appliance.synth

    folder = cache_root / synth_cache_subdir()
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    try:
        indexes = sorted(folder.glob(f"engine*render_block*.{tag}.nbi"))
    except PermissionError:
        return False, f"{folder} cannot be read by this user"
    if not indexes:
        return False, f"the synthesizer's kernels are not cached in {cache_root}"
    index = indexes[-1]
    try:
        head = index.read_bytes()[:64]
        mtime = index.stat().st_mtime
    except OSError as exc:
        return False, f"{index} cannot be read ({exc.strerror or exc})"
    try:
        numba_version = importlib.metadata.version("numba")
    except importlib.metadata.PackageNotFoundError:
        numba_version = ""
    if numba_version and numba_version.encode() not in head:
        return False, (
            f"the cached kernels were compiled by another Numba version (now {numba_version})"
        )
    sources = Path(appliance.synth.__file__).resolve().parent.glob("*.py")
    newest = max((p.stat().st_mtime for p in sources), default=0.0)
    if newest > mtime:
        return False, "the cached kernels are older than the synthesizer's source"
    data = list(folder.glob(f"engine*render_block*.{tag}.*.nbc"))
    if not data:
        return False, f"the kernel index in {cache_root} has no compiled data"
    if len(data) > PILED_UP_BUILDS:
        # Numba adds a build at every cache miss: a pile means it misses at every start.
        return False, (
            f"{folder} holds {len(data)} builds of the render kernel: it is probably "
            "compiled again at every start (a Numba cache miss)"
        )
    return True, f"kernels cached in {cache_root} (numba {numba_version})"


def check_numba_cache() -> Check:
    """NUMBA_CACHE_DIR writable, and whether the synth kernels are cached there."""
    name = "Numba cache"
    env = os.environ.get("NUMBA_CACHE_DIR", "")
    if env:
        root = Path(env)
        if not _writable_dir(root):
            owner = ""
            if root.exists():
                try:
                    owner = f" (owned by {pwd.getpwuid(root.stat().st_uid).pw_name})"
                except KeyError:
                    owner = ""
            if _user() != SERVICE_USER and _on_installed_box() and os.getuid() != 0:
                return _problem(
                    name, f"NUMBA_CACHE_DIR={root} is not writable by {_user()}{owner}",
                    "check as root, which sees what the service sees: sudo soundscape doctor",
                )
            return _problem(
                name,
                f"NUMBA_CACHE_DIR={root} is not writable{owner}: Numba refuses to start "
                "without a place for its cache",
                f"sudo mkdir -p {root} && sudo chown {_user()} {root}, "
                "or point NUMBA_CACHE_DIR at a writable folder",
                fatal=True,
            )
        roots = [root]
    else:
        import appliance.synth

        in_tree = Path(appliance.synth.__file__).resolve().parent / "__pycache__"
        user_wide = Path(
            os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        ) / "numba"
        roots = [p for p in (in_tree, user_wide) if p.is_dir()]
        if not (_writable_dir(in_tree) or _writable_dir(user_wide)):
            return _problem(
                name, "NUMBA_CACHE_DIR is not set and neither the source folder nor "
                f"{user_wide} is writable: Numba refuses to start",
                "set NUMBA_CACHE_DIR to a writable folder (the service sets "
                "/var/cache/soundscape/numba)",
                fatal=True,
            )
    results = [kernel_cache_state(r) for r in roots]
    for cached, words in results:
        if cached:
            return _ok(name, words + ": the sound starts within seconds")
    words = results[0][1] if results else "the synthesizer's kernels are not cached yet"
    warm = _as_service(
        f"{_venv_python()} -c 'from appliance.synth import warm_up; warm_up()'"
    )
    return _problem(
        name,
        f"{words}: the next start compiles them first (minutes on a Pi 4)",
        f"compile them now: {warm}",
    )


# ------------------------------------------------------------------- all
def _guarded(name: str, check: Callable[[], Check | list[Check]]) -> list[Check]:
    """Run one check; a bug in it becomes a (non-fatal) problem, never a crash."""
    try:
        result = check()
    except Exception as exc:  # the doctor must report, not crash
        log.debug("check %s failed", name, exc_info=True)
        return [_problem(name, f"the check itself failed ({type(exc).__name__}: {exc})",
                         "report this with the output of: soundscape -v doctor")]
    return result if isinstance(result, list) else [result]


def run_checks(
    config: Config | None = None,
    *,
    config_path: Path | None = None,
    model_path: Path | None = None,
) -> list[Check]:
    """Every check, in report order.

    ``config``: an already loaded configuration (checked as given); when None
    it is loaded from ``config_path`` (default: the system file, whose
    absence means all defaults) and a broken file is a fatal problem, the
    other checks then running with the defaults. ``model_path`` overrides
    ``[model] path``.
    """
    checks: list[Check] = []
    if config is None:
        config_check, config = check_config(config_path)
        checks.append(config_check)
    else:
        checks.append(_ok("configuration", "given by the caller"))
    if model_path is not None:
        model = dataclasses.replace(config.model, path=str(model_path))
        config = dataclasses.replace(config, model=model)
    cfg = config
    checks += _guarded("service", check_service)
    checks += _guarded("camera", lambda: check_camera(cfg))
    checks += _guarded("sound card", lambda: check_sound(cfg))
    checks += _guarded("GPIO buttons", lambda: check_gpio(cfg))
    checks += _guarded("speech", check_speech)
    checks += _guarded("TFLite runtime", check_runtime)
    found: list[str | None] = [None]

    def model() -> Check:
        check, found[0] = check_model(cfg)
        return check

    checks += _guarded("model", model)
    checks += _guarded("corpora", lambda: check_corpora(cfg, found[0]))
    checks += _guarded("Numba cache", check_numba_cache)
    return checks


def can_run(checks: Iterable[Check]) -> bool:
    """True when no check found a fatal problem."""
    return not any(c.fatal and not c.ok for c in checks)


def summary(checks: list[Check]) -> str:
    """One sentence for the end of the report (and the first thing spoken)."""
    problems = [c for c in checks if not c.ok]
    fatal = [c.name for c in problems if c.fatal]
    names = ", ".join(c.name for c in problems)
    if fatal:
        return (f"The appliance cannot run: {', '.join(fatal)}. "
                f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in all: {names}.")
    if problems:
        return (f"The appliance can run, with {len(problems)} "
                f"problem{'s' if len(problems) != 1 else ''}: {names}.")
    return "Everything looks right: the appliance can run."


def format_report(checks: list[Check]) -> str:
    """The human report: one line per check, a fix line under each problem, the summary."""
    lines = []
    for c in checks:
        mark = "OK" if c.ok else "PROBLEM"
        lines.append(f"{mark:<8} {c.name}: {c.detail}")
        if not c.ok:
            lines.append(f"  fix: {c.fix}")
    lines.append(f"Summary: {summary(checks)}")
    return "\n".join(lines)


def spoken_text(checks: list[Check]) -> list[str]:
    """What ``--speak`` says: the summary, then each problem and its fix."""
    out = [summary(checks)]
    for c in checks:
        if not c.ok:
            out.append(f"Problem with {c.name}: {c.detail}. To fix: {c.fix}.")
    return out


def speak(sentences: list[str], config: Config) -> str:
    """Read ``sentences`` aloud with espeak-ng; returns "" or why it could not."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        return "not spoken: espeak-ng is not installed (sudo apt install espeak-ng)"
    if not sound_card_present():
        return "not spoken: there is no sound card to speak on"
    device = config.audio.device
    aplay = shutil.which("aplay")
    for sentence in sentences:
        try:
            if device.startswith("alsa:") and aplay is not None:
                wav = subprocess.run([espeak, "-s", "150", "--stdout", sentence],
                                     capture_output=True, timeout=120, check=True).stdout
                subprocess.run([aplay, "-q", "-D", device[5:]], input=wav,
                               capture_output=True, timeout=300, check=True)
            else:
                subprocess.run([espeak, "-s", "150", sentence], capture_output=True,
                               timeout=300, check=True)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"not spoken: espeak-ng failed ({exc})"
    return ""


# -------------------------------------------------------------------- CLI
def service_environment(unit: Path = INSTALLED_UNIT) -> dict[str, str]:
    """The ``Environment=`` assignments of an installed unit, systemd specifiers expanded."""
    env: dict[str, str] = {}
    try:
        lines = unit.read_text(encoding="utf-8").splitlines()
    except OSError:
        return env
    for line in lines:
        key, _, value = line.strip().partition("=")
        if key.strip() != "Environment":
            continue
        try:
            words = shlex.split(value)
        except ValueError:
            continue
        for word in words:
            var, eq, val = word.partition("=")
            if eq:
                for spec, real in _SPECIFIERS.items():
                    val = val.replace(spec, real)
                env[var] = val
    return env


def adopt_service_environment(unit: Path = INSTALLED_UNIT) -> bool:
    """Outside systemd, on an installed box: check the service's caches, not the caller's.

    Sets (without overriding) the unit's ``Environment=`` variables. Returns
    whether anything was adopted.
    """
    if os.environ.get("INVOCATION_ID") or not unit.is_file():
        return False
    adopted = False
    for var, val in service_environment(unit).items():
        if var not in os.environ:
            os.environ[var] = val
            adopted = True
    return adopted


def cmd_doctor(args: argparse.Namespace) -> int:
    """``soundscape doctor``: print (and optionally speak) the report; 1 if it cannot run."""
    adopted = adopt_service_environment()
    checks = run_checks(config_path=args.config, model_path=args.model)
    if args.json:
        print(json.dumps({
            "can_run": can_run(checks),
            "summary": summary(checks),
            "checks": [dataclasses.asdict(c) for c in checks],
        }, indent=2, ensure_ascii=False))
    else:
        if adopted:
            print(f"(checking with the service's settings from {INSTALLED_UNIT})")
        print(format_report(checks))
    if args.speak:
        _, config = check_config(args.config)
        note = speak(spoken_text(checks), config)
        if note:
            print(note, file=sys.stderr)
    return 0 if can_run(checks) else 1


_DESCRIPTION = (
    "Checks everything the appliance needs and prints one line per check, with how to fix "
    "each problem. Exit code 1 when the appliance cannot run."
)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``doctor`` on the CLI's sub-parsers."""
    p = sub.add_parser(
        "doctor",
        help="check camera, sound card, buttons, model, corpora and service; say how to fix",
        description=_DESCRIPTION,
    )
    _add_arguments(p)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path,
                   help=f"configuration file (default {DEFAULT_CONFIG_PATH}, if it exists)")
    p.add_argument("--model", type=Path, help="TFLite model file, overrides [model] path")
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.add_argument("--speak", action="store_true",
                   help="read the summary and each problem aloud (espeak-ng)")
    p.set_defaults(func=cmd_doctor)


def main(argv: list[str] | None = None) -> int:
    """``python -m appliance.doctor``: the same command without the ``soundscape`` front end."""
    parser = argparse.ArgumentParser(prog="python -m appliance.doctor", description=_DESCRIPTION)
    _add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return cmd_doctor(args)


if __name__ == "__main__":
    raise SystemExit(main())
