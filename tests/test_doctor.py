"""``soundscape doctor``: every problem in words with a fix, and the right exit code.

Two kinds of tests: the checks with the hardware probes replaced (the same
answer on any machine), and the real command on this machine, which has no
camera, no sound card and no GPIO (skipped where there is such hardware).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance import DEFAULT_MODEL, PROJECT_ROOT, doctor
from appliance.config import Config, load_config
from appliance.doctor import base, hardware, report, service
from appliance.synth import cache as kernel_cache

WRONG_MODEL = PROJECT_ROOT / "tests" / "data" / "wrong_shape.tflite"


def by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


@pytest.fixture
def no_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine as the doctor sees it: no camera, no sound card, no GPIO."""
    import appliance.camera.factory as factory
    import appliance.controls.buttons as buttons

    monkeypatch.setattr(factory, "detect_cameras", lambda: [])
    monkeypatch.setattr(factory, "v4l2_nodes", lambda *a, **k: [])
    monkeypatch.setattr(hardware, "sound_cards", lambda: [])
    monkeypatch.setattr(
        buttons, "gpio_status",
        lambda: "GPIO: unavailable, Unable to load any default pin factory! (Falling back "
                "from lgpio: No module named 'lgpio'; Falling back from native: unable to "
                "locate Pi revision in /proc/device-tree or /proc/cpuinfo)",
    )
    monkeypatch.setattr(service, "systemd_running", lambda: False)


# ------------------------------------------------------------ unit level
def test_missing_hardware_is_reported_with_fixes_but_not_fatal(no_hardware: None) -> None:
    config = Config.default()
    camera = doctor.check_camera(config)
    sound = doctor.check_sound(config)
    gpio = doctor.check_gpio(config)
    for check in (camera, sound, gpio):
        assert not check.ok and not check.fatal
        assert check.fix
    assert "no camera found" in camera.detail and "slideshow" in camera.detail
    assert "rpicam-hello" in camera.fix or "webcam" in camera.fix
    assert "no sound card" in sound.detail and "WAV" in sound.detail
    assert "aplay -l" in sound.fix
    assert "no GPIO" in gpio.detail and "lgpio is not installed" in gpio.detail
    assert "GPIO17" in gpio.detail  # the pins the buttons would use
    assert "lgpio" in gpio.fix


def test_configured_sources_without_hardware_are_fine(no_hardware: None) -> None:
    config = load_config_text('[camera]\nsource = "slideshow:/tmp"\n[audio]\ndevice = "paced"\n'
                              "[buttons]\nenabled = false\n")
    assert doctor.check_camera(config).ok
    assert doctor.check_sound(config).ok
    assert doctor.check_gpio(config).ok


def load_config_text(text: str) -> Config:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as fh:
        fh.write(text)
    try:
        return load_config(Path(fh.name))
    finally:
        os.unlink(fh.name)


def test_sound_card_listing_and_the_pcm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "sound_cards",
                        lambda: ["card 0 [Headphones]: bcm2835_headpho - bcm2835 Headphones",
                                 "card 1 [Device]: USB-Audio - USB Audio Device"])
    monkeypatch.setattr(hardware.importlib.util, "find_spec", lambda name: object())
    ok = doctor.check_sound(load_config_text('[audio]\ndevice = "alsa:plughw:CARD=Device,DEV=0"\n'))
    assert ok.ok and "'plughw:CARD=Device,DEV=0'" in ok.detail
    wrong = doctor.check_sound(load_config_text('[audio]\ndevice = "alsa:hw:3"\n'))
    assert not wrong.ok and "no card 3" in wrong.detail and "aplay -l" in wrong.fix
    default = doctor.check_sound(Config.default())
    assert default.ok and "'default'" in default.detail


def test_missing_pyalsaaudio_is_a_problem_when_there_is_a_card(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hardware, "sound_cards", lambda: ["card 0 [Device]: USB-Audio - X"])
    monkeypatch.setattr(hardware.importlib.util, "find_spec", lambda name: None)
    check = doctor.check_sound(Config.default())
    assert not check.ok and not check.fatal
    assert "pyalsaaudio" in check.detail and "libasound2-dev" in check.fix


def test_a_missing_model_is_fatal(tmp_path: Path) -> None:
    config = Config.default()
    checks = by_name(doctor.run_checks(config, model_path=tmp_path / "nope.tflite"))
    model = checks["model"]
    assert not model.ok and model.fatal
    assert "does not exist" in model.detail and "build_model.py" in model.fix
    assert not doctor.can_run(checks.values())
    assert "cannot run: model" in doctor.summary(list(checks.values()))


def test_a_model_that_is_not_the_embedding_network_is_fatal() -> None:
    config = Config.default()
    config = dataclasses.replace(config, model=dataclasses.replace(config.model,
                                                                   path=str(WRONG_MODEL)))
    check, sha = doctor.check_model(config)
    assert not check.ok and check.fatal and sha is None
    assert "not the expected embedding network" in check.detail
    assert "build_model.py" in check.fix


def test_published_sha_is_read_from_the_models_readme(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    digest = "ab" * 32
    readme.write_text(f"# Model\n\n- file: resnet50_int8.tflite\n- sha256: `{digest}`\n")
    assert doctor.published_model_sha256(readme) == digest
    readme.write_text("no digest here\n")
    assert doctor.published_model_sha256(readme) is None
    assert doctor.published_model_sha256(tmp_path / "missing.md") is None


def test_a_broken_configuration_is_fatal_and_the_rest_still_runs(
    tmp_path: Path, no_hardware: None
) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[audio]\nblock_size = 500\n")
    checks = doctor.run_checks(config_path=bad)
    first = checks[0]
    assert first.name == "configuration" and first.fatal and not first.ok
    assert "audio.block_size" in first.detail and str(bad) in first.fix
    assert {"camera", "sound card", "GPIO buttons", "model"} <= set(by_name(checks))


def test_missing_default_configuration_means_defaults(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setattr(service, "DEFAULT_CONFIG_PATH", tmp_path / "absent.toml")
    check, config = doctor.check_config(None)
    assert check.ok and "default" in check.detail
    assert config == Config.default()


def test_numba_cache_dir_that_cannot_be_written_is_fatal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "numba"))  # below a file: impossible
    monkeypatch.setattr(service, "on_installed_box", lambda: False)
    check = doctor.check_numba_cache()
    assert not check.ok and check.fatal and "NUMBA_CACHE_DIR" in check.detail


def test_numba_cache_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    check = doctor.check_numba_cache()
    assert not check.ok and not check.fatal
    assert "not cached" in check.detail and "warm_up()" in check.fix
    # What Numba writes: <cache>/synth_<sha1>/engine...render_block-<line>.pyXY.{nbi,N.nbc}
    import importlib.metadata

    folder = tmp_path / kernel_cache.synth_cache_subdir()
    folder.mkdir()
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    version = importlib.metadata.version("numba").encode()
    (folder / f"engine._build.locals.render_block-117.{tag}.nbi").write_bytes(
        b"\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00\x8c\x06" + version + b"\x94."
    )
    (folder / f"engine._build.locals.render_block-117.{tag}.1.nbc").write_bytes(b"x")
    check = doctor.check_numba_cache()
    assert check.ok, check
    assert "cached" in check.detail


@pytest.mark.slow
def test_real_numba_cache_is_recognised(tmp_path: Path) -> None:
    """The index and data files Numba really writes are found (compiles the kernels)."""
    code = "from appliance.synth import warm_up; warm_up()"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=900)
    cached, words = kernel_cache.kernel_cache_state(tmp_path)
    assert cached, words


def test_a_pile_of_kernel_builds_means_cache_misses(tmp_path: Path) -> None:
    import importlib.metadata

    folder = tmp_path / kernel_cache.synth_cache_subdir()
    folder.mkdir()
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    version = importlib.metadata.version("numba").encode()
    (folder / f"engine._build.locals.render_block-117.{tag}.nbi").write_bytes(b"\x8c" + version)
    for n in range(1, kernel_cache.PILED_UP_BUILDS + 2):
        (folder / f"engine._build.locals.render_block-117.{tag}.{n}.nbc").write_bytes(b"x")
    cached, words = kernel_cache.kernel_cache_state(tmp_path)
    assert not cached and "compiled again at every start" in words


def test_corpora_where_the_service_cannot_see_them() -> None:
    assert doctor.hidden_from_service(Path("/home/pi/corpora/forest"))
    assert doctor.hidden_from_service(Path("/tmp/forest"))
    assert not doctor.hidden_from_service(Path("/var/lib/soundscape/corpora/forest"))
    assert not doctor.hidden_from_service(Path("/homestead"))


def test_service_environment_is_read_from_an_installed_unit(tmp_path: Path) -> None:
    unit = tmp_path / "soundscape.service"
    unit.write_text((PROJECT_ROOT / "systemd" / "soundscape.service").read_text())
    env = doctor.service_environment(unit)
    assert env["NUMBA_CACHE_DIR"] == "/var/cache/soundscape/numba"
    assert env["SOUNDSCAPE_CACHE"] == "/var/cache/soundscape"
    assert env["SOUNDSCAPE_CORPORA"] == "/var/lib/soundscape/corpora"


def test_unit_groups_follow_drop_in_resets(tmp_path: Path) -> None:
    unit = tmp_path / "soundscape.service"
    unit.write_text("[Service]\nSupplementaryGroups=audio video gpio\n")
    assert doctor.unit_groups(unit) == ["audio", "video", "gpio"]
    (tmp_path / "soundscape.service.d").mkdir()
    (tmp_path / "soundscape.service.d" / "10-install-pi.conf").write_text(
        "[Service]\nSupplementaryGroups=\nSupplementaryGroups=audio video\n"
    )
    assert doctor.unit_groups(unit) == ["audio", "video"]


def test_report_format_and_summary() -> None:
    checks = [
        doctor.Check("camera", False, "no camera found", "connect one"),
        doctor.Check("model", True, "fine"),
    ]
    text = doctor.format_report(checks)
    assert text.splitlines() == [
        "PROBLEM  camera: no camera found",
        "  fix: connect one",
        "OK       model: fine",
        "Summary: The appliance can run, with 1 problem: camera.",
    ]
    assert doctor.spoken_text(checks) == [
        "The appliance can run, with 1 problem: camera.",
        "Problem with camera: no camera found. To fix: connect one.",
    ]


def test_a_crashing_check_becomes_a_problem_not_a_crash() -> None:
    def broken() -> doctor.Check:
        raise RuntimeError("boom")

    [check] = base.guarded("camera", broken)
    assert not check.ok and not check.fatal and "boom" in check.detail


def test_the_exit_code_is_zero_only_when_all_is_well() -> None:
    """Scripts and the installer rely on it: 0 all well, 1 cannot run, 3 problems."""
    fine = doctor.Check("model", True, "fine")
    camera = doctor.Check("camera", False, "no camera found", "connect one")
    model = doctor.Check("model", False, "missing", "rebuild it", fatal=True)
    assert doctor.exit_code([fine]) == 0
    assert doctor.exit_code([fine, camera]) == 3
    assert doctor.exit_code([camera, model]) == 1


def test_the_help_says_what_the_exit_code_means() -> None:
    proc = subprocess.run([sys.executable, "-m", "appliance", "doctor", "--help"],
                          capture_output=True, text=True, check=True, cwd=PROJECT_ROOT)
    text = " ".join(proc.stdout.split())
    assert "Exit code 0 only when all is well; 1 when the appliance cannot run; 3 when" in text


def test_add_commands_registers_doctor() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    doctor.add_commands(sub)
    args = parser.parse_args(["doctor", "--json", "--speak", "--model", "m.tflite"])
    assert args.func is doctor.cmd_doctor
    assert args.json and args.speak and args.model == Path("m.tflite")


# ------------------------------------------------------- on this machine
def machine_has_hardware() -> str:
    if Path("/proc/asound/cards").exists() and "no soundcards" not in Path(
        "/proc/asound/cards"
    ).read_text():
        return "this machine has a sound card"
    if list(Path("/dev").glob("video*")):
        return "this machine has a camera device"
    if list(Path("/dev").glob("gpiochip*")):
        return "this machine has GPIO"
    return ""


def run_doctor(*args: str, env_extra: dict[str, str] | None = None,
               path_prefix: Path | None = None, drop: tuple[str, ...] = ()
               ) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("INVOCATION_ID", *drop)}
    env.update(env_extra or {})
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}:{env.get('PATH', '')}"
    return subprocess.run([sys.executable, "-m", "appliance.doctor", *args],
                          capture_output=True, text=True, env=env, timeout=300,
                          cwd=PROJECT_ROOT)


@pytest.mark.skipif(bool(machine_has_hardware()), reason=machine_has_hardware() or "n/a")
def test_doctor_on_this_machine_reports_no_camera_no_card_no_gpio() -> None:
    proc = run_doctor()
    lines = proc.stdout.splitlines()
    for name, words in (("camera", "no camera found"), ("sound card", "no sound card found"),
                        ("GPIO buttons", "no GPIO")):
        [line] = [i for i, text in enumerate(lines) if text.startswith(f"PROBLEM  {name}:")]
        assert words in lines[line]
        assert lines[line + 1].startswith("  fix: ")
    assert lines[-1].startswith("Summary: ")

    report = json.loads(run_doctor("--json").stdout)
    checks = {c["name"]: c for c in report["checks"]}
    for name in ("camera", "sound card", "GPIO buttons"):
        assert not checks[name]["ok"] and not checks[name]["fatal"] and checks[name]["fix"]
    fatal = [c["name"] for c in report["checks"] if c["fatal"] and not c["ok"]]
    assert report["can_run"] == (not fatal)
    problems = [c["name"] for c in report["checks"] if not c["ok"]]
    assert proc.returncode == (1 if fatal else 3 if problems else 0)
    assert report["exit_code"] == proc.returncode
    if DEFAULT_MODEL.is_file() and checks["model"]["ok"]:
        # Missing hardware alone never stops the appliance (fallbacks exist).
        assert not {"camera", "sound card", "GPIO buttons"} & set(fatal)


def test_doctor_with_a_missing_model_exits_1(tmp_path: Path) -> None:
    proc = run_doctor("--model", str(tmp_path / "missing.tflite"))
    assert proc.returncode == 1
    assert f"PROBLEM  model: model file {tmp_path / 'missing.tflite'} does not exist" in proc.stdout
    assert "Summary: The appliance cannot run: model" in proc.stdout


def test_doctor_speaks_the_summary_and_each_problem(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    spoken = tmp_path / "spoken.txt"
    stub = bin_dir / "espeak-ng"
    stub.write_text(f'#!/bin/sh\nfor a; do last="$a"; done\necho "$last" >> "{spoken}"\n')
    stub.chmod(0o755)
    proc = run_doctor("--speak", "--model", str(tmp_path / "missing.tflite"),
                      path_prefix=bin_dir)
    assert proc.returncode == 1
    if doctor.sound_card_present():
        said = spoken.read_text().splitlines()
        assert said[0].startswith("The appliance cannot run: model")
        assert any(s.startswith("Problem with model:") for s in said)
    else:  # nothing to speak on: said so, in words
        assert not spoken.exists()
        assert "not spoken: there is no sound card" in proc.stderr


def test_speak_reads_every_sentence_with_espeak(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(report.shutil, "which",
                        lambda name: f"/usr/bin/{name}" if name == "espeak-ng" else None)
    monkeypatch.setattr(report, "sound_card_present", lambda: True)
    monkeypatch.setattr(report.subprocess, "run",
                        lambda cmd, **kw: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    assert doctor.speak(["one.", "two."], Config.default()) == ""
    assert [c[-1] for c in calls] == ["one.", "two."]
    assert all(c[0] == "/usr/bin/espeak-ng" for c in calls)


def test_speak_without_espeak_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report.shutil, "which", lambda name: None)
    assert "espeak-ng is not installed" in doctor.speak(["x"], Config.default())


# ------------------------------------------------- fixes as data, one cache rule
def test_errors_carry_their_fix_as_data_and_the_doctor_shows_it(tmp_path: Path) -> None:
    from appliance.corpus import load_corpus
    from appliance.errors import CorpusMissingError

    with pytest.raises(CorpusMissingError) as caught:
        load_corpus(tmp_path / "nowhere")
    exc = caught.value
    assert exc.fix == f"build one with: soundscape corpus build SOURCE -o {tmp_path / 'nowhere'}"
    assert str(exc) == f"{exc.what}; {exc.fix}"  # the sentence a person reads, unchanged
    config = load_config_text(f'[corpora]\norder = ["{tmp_path / "nowhere"}"]\n')
    [check] = [c for c in doctor.check_corpora(config, "0" * 64) if c.name == "corpus nowhere"]
    assert check.detail == exc.what and check.fix.startswith(exc.fix)


def test_one_cache_rule_for_scripts_run_and_doctor(tmp_path: Path) -> None:
    """Without NUMBA_CACHE_DIR, `soundscape doctor` looks where scripts/_env.sh and
    `soundscape run` put Numba's kernels: $XDG_CACHE_HOME/soundscape/numba."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "SOUNDSCAPE_CACHE", "CACHE_DIRECTORY")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    run = [sys.executable, "-m", "appliance.paths"]
    numba = subprocess.run([*run, "numba"], env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    cache = subprocess.run([*run, "cache"], env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    assert numba == str(tmp_path / "xdg" / "soundscape" / "numba")
    assert cache == str(tmp_path / "xdg" / "soundscape")
    venv = Path(sys.prefix)
    stamp = venv / ".soundscape-installed"
    if stamp.is_file() and stamp.read_text().startswith("dev "):  # ensure_venv: no install
        shell = subprocess.run(
            ["bash", "-c", f'source "{PROJECT_ROOT}/scripts/_env.sh"; ensure_venv dev; '
             'echo "$NUMBA_CACHE_DIR"'],
            env={**env, "SOUNDSCAPE_VENV": str(venv)}, capture_output=True, text=True,
            check=True, cwd=PROJECT_ROOT)
        assert shell.stdout.strip().splitlines()[-1] == numba
    report = json.loads(run_doctor("--json", env_extra={"XDG_CACHE_HOME": str(tmp_path / "xdg")},
                                   drop=("NUMBA_CACHE_DIR", "SOUNDSCAPE_CACHE")).stdout)
    [check] = [c for c in report["checks"] if c["name"] == "Numba cache"]
    assert numba in check["detail"]


def test_on_a_jetson_the_camera_line_says_which_camera_path_it_has(monkeypatch) -> None:
    from appliance.camera import jetson

    config = Config.default()
    plain = doctor.check_camera(config)
    line = "Jetson: JetPack's OpenCV with GStreamer, CSI camera /dev/video0: nvarguscamerasrc"
    monkeypatch.setattr(jetson, "jetson_camera_path", lambda: line)
    on_jetson = doctor.check_camera(config)
    assert on_jetson.detail == f"{plain.detail}; {line}" and on_jetson.ok == plain.ok
