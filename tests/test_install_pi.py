"""scripts/install-pi: ``--dry-run`` on this machine prints every action and changes nothing.

The dry runs execute with a PATH whose first folder holds trip-wires for every
command that changes the system (apt-get, useradd, systemctl, rsync, ...):
if the script ran any of them, the trip-wire's log would show it.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from appliance import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "install-pi"
SHELL_SCRIPTS = ["scripts/install-pi", "scripts/demo", "scripts/test", "scripts/bench",
                 "scripts/_env.sh", "scripts/test-aarch64", ".ci/run"]
TRIPWIRES = ("apt-get", "apt", "dpkg", "useradd", "usermod", "userdel", "groupadd", "systemctl",
             "runuser", "rsync", "install", "ln", "chown", "chmod", "mv", "rm", "cp", "pip",
             "pip3", "mkdir")
#: Paths outside the prefix that a real install creates.
SYSTEM_PATHS = [Path("/etc/polkit-1/rules.d/50-soundscape.rules"),
                Path("/etc/polkit-1/localauthority/50-local.d/50-soundscape.pkla"),
                Path("/etc/soundscape"),
                Path("/etc/systemd/system/soundscape.service"),
                Path("/etc/systemd/system/soundscape.service.d"), Path("/var/cache/soundscape"),
                Path("/var/lib/soundscape"), Path("/usr/local/bin/soundscape")]


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def snapshot() -> dict[str, bool]:
    state = {str(p): p.exists() or p.is_symlink() for p in SYSTEM_PATHS}
    state["user soundscape"] = user_exists("soundscape")
    return state


def tripwired_env(tmp_path: Path, fake_uid: int | None = None) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "tripwire-bin"
    bin_dir.mkdir()
    log = tmp_path / "tripwire.log"
    for name in TRIPWIRES:
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit 97\n')
        stub.chmod(0o755)
    if fake_uid is not None:  # pretend to be an ordinary user
        real_id = shutil.which("id")
        stub = bin_dir / "id"
        stub.write_text(
            f'#!/bin/sh\nif [ "$*" = "-u" ]; then echo {fake_uid}; else exec {real_id} "$@"; fi\n'
        )
        stub.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOUNDSCAPE")}
    env["PATH"] = f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    return env, log


def run_script(tmp_path: Path, *args: str, fake_uid: int | None = None):
    env, log = tripwired_env(tmp_path, fake_uid)
    before = snapshot()
    proc = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, timeout=120, cwd=tmp_path)
    assert snapshot() == before, "the script changed the system"
    assert not log.exists(), f"the script ran commands that change the system:\n{log.read_text()}"
    return proc


def action_lines(stdout: str) -> list[str]:
    return [line[2:] for line in stdout.splitlines() if line.startswith("+ ")]


def find(actions: list[str], start: str) -> str:
    hits = [a for a in actions if a.startswith(start)]
    assert hits, f"no action starting with {start!r} in:\n" + "\n".join(actions)
    return hits[0]


# ------------------------------------------------------------------ dry run
def test_dry_run_prints_every_step_and_changes_nothing(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    proc = run_script(tmp_path, "--dry-run", "--prefix", str(prefix))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not prefix.exists()
    out = proc.stdout
    actions = action_lines(out)
    assert out.startswith("Dry run")

    apt = find(actions, "apt-get install")
    for package in ("python3-venv", "python3-dev", "gcc", "libasound2-dev", "espeak-ng", "sox"):
        assert f" {package}" in apt
    on_pi = Path("/etc/rpi-issue").exists()
    assert ("python3-picamera2" in apt) == on_pi

    if user_exists("soundscape"):
        find(actions, "usermod -a -G")
    else:
        useradd = find(actions, "useradd --system")
        assert "--home-dir /nonexistent" in useradd
        assert "--shell /usr/sbin/nologin" in useradd
        assert useradd.endswith(" soundscape")
        found = [g for g in ("audio", "video", "gpio") if group_exists(g)]
        if found:
            assert f"--groups {','.join(found)}" in useradd

    find(actions, "rsync -a --delete")
    assert f"{PROJECT_ROOT}/ {prefix}/" in find(actions, "rsync")
    venv = prefix / ".venv"
    find(actions, f"python3 -m venv --system-site-packages {venv}")
    pip_project = find(actions, f"{venv}/bin/python -m pip")
    assert pip_project
    assert any(a.endswith(f"-e '{prefix}[pi]'") for a in actions)
    codename = ""
    if Path("/etc/os-release").exists():
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                codename = line.split("=", 1)[1].strip('"')
    assert any("'numpy<2'" in a for a in actions) == (codename == "bookworm")

    find(actions, "write /etc/systemd/system/soundscape.service")
    find(actions, "systemctl enable soundscape.service")
    if not Path("/etc/soundscape/config.toml").exists():
        find(actions, "write /etc/soundscape/config.toml")
    warm = find(actions, "runuser -u soundscape -- env NUMBA_CACHE_DIR=/var/cache/soundscape/numba")
    assert "warm_up()" in warm
    assert any("ensure_demo_corpora" in a for a in actions)
    assert f"ExecStart={prefix}/.venv/bin/soundscape" not in out  # long files: lengths only


def dry_run_as_if(tmp_path: Path, target: str) -> tuple[list[str], str]:
    proc = run_script(tmp_path, "--dry-run", "--as-if", target, "--prefix", str(tmp_path / "p"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return action_lines(proc.stdout), proc.stdout


@pytest.mark.parametrize("codename", ["bookworm", "trixie"])
def test_dry_run_for_raspberry_pi_os(tmp_path: Path, codename: str) -> None:
    actions, out = dry_run_as_if(tmp_path, f"raspios-{codename}")
    assert f"Raspberry Pi OS ({codename}), Python {'3.11' if codename == 'bookworm' else '3.13'}" \
        in out
    apt = find(actions, "apt-get install").split()
    # lgpio from Raspberry Pi OS (no 3.13 wheel, no source build), apt's numpy on OpenBLAS
    for package in ("python3-picamera2", "python3-lgpio", "python3-numpy",
                    "libopenblas0-pthread", "python3-opencv"):
        assert package in apt, package
    assert any(a.endswith("[pi]'") and " -e " in a for a in actions)
    assert any("'numpy<2'" in a for a in actions) == (codename == "bookworm")
    check = find(actions, f"{tmp_path}/p/.venv/bin/python -c")  # after pip: picamera2 imports
    assert "import PIL, av, picamera2, lgpio" in check
    assert actions.index(check) > actions.index(find(actions, f"{tmp_path}/p/.venv/bin/python "
                                                              "-m pip --disable-pip-version-check "
                                                              "--no-input install -c"))
    find(actions, "write /etc/polkit-1/rules.d/50-soundscape.rules")


def test_dry_run_for_a_plain_debian_box_has_no_pi_packages(tmp_path: Path) -> None:
    actions, _out = dry_run_as_if(tmp_path, "debian-trixie")
    apt = find(actions, "apt-get install").split()
    assert "python3-picamera2" not in apt and "python3-lgpio" not in apt
    assert "libopenblas0-pthread" in apt
    assert not any("picamera2" in a for a in actions)


def test_dry_run_for_a_jetson(tmp_path: Path) -> None:
    actions, out = dry_run_as_if(tmp_path, "jetson")
    assert "Jetson (ubuntu jammy), Python 3.10" in out
    assert "JetPack's OpenCV has GStreamer" in out
    apt = find(actions, "apt-get install").split()
    # JetPack's own OpenCV (GStreamer, the CSI camera) is used, not Ubuntu's
    assert "python3-opencv" not in apt and "python3-picamera2" not in apt
    find(actions, f"python3 -m venv --system-site-packages {tmp_path}/p/.venv")
    assert any(a.endswith("[jetson]'") for a in actions)
    assert any("'numpy<2'" in a for a in actions)  # JetPack's OpenCV is built on numpy 1
    pkla = find(actions, "write /etc/polkit-1/localauthority/50-local.d/50-soundscape.pkla")
    assert pkla
    assert not any("polkit-1/rules.d" in a for a in actions)  # 0.105 reads no .rules
    assert "Identity=unix-user:soundscape" in out
    assert "PrivateTmp=no" in out  # nvargus-daemon's socket in /tmp
    if not Path("/etc/udev/rules.d/99-gpio.rules").exists():  # Jetson.GPIO's udev rule
        rule = find(actions, f"install -m 0644 {tmp_path}/p/.venv/lib/python3.10/site-packages/"
                             "Jetson/GPIO/99-gpio.rules")
        assert rule.endswith(" /etc/udev/rules.d/99-gpio.rules")
        find(actions, "udevadm trigger")


def test_as_if_is_only_for_dry_runs(tmp_path: Path) -> None:
    proc = run_script(tmp_path, "--as-if", "jetson")
    assert proc.returncode != 0 and "--as-if only goes with --dry-run" in proc.stderr
    (tmp_path / "again").mkdir()
    proc = run_script(tmp_path / "again", "--dry-run", "--as-if", "windows")
    assert proc.returncode != 0 and "unknown target 'windows'" in proc.stderr


def test_dry_run_works_without_root(tmp_path: Path) -> None:
    proc = run_script(tmp_path, "--dry-run", "--prefix", str(tmp_path / "p"), fake_uid=1000)
    assert proc.returncode == 0, proc.stderr
    assert "apt-get install" in proc.stdout


def test_a_real_run_refuses_without_root(tmp_path: Path) -> None:
    proc = run_script(tmp_path, "--prefix", str(tmp_path / "p"), fake_uid=1000)
    assert proc.returncode != 0
    assert "run it as root" in proc.stderr
    assert "--dry-run" in proc.stderr
    assert proc.stdout == ""


def test_uninstall_dry_run_keeps_state_unless_purged(tmp_path: Path) -> None:
    proc = run_script(tmp_path, "--dry-run", "--uninstall", "--prefix", str(tmp_path / "p"))
    assert proc.returncode == 0, proc.stderr
    assert "nothing was changed" in proc.stdout
    assert not any("/var/lib/soundscape" in a for a in action_lines(proc.stdout))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--purge"], "--purge only goes with --uninstall"),
        (["--dry-run", "--prefix", "/"], "refusing"),
        (["--dry-run", "--prefix", "relative/dir"], "absolute"),
        (["--dry-run", "--prefix", "/tmp/with space"], "--prefix"),
        (["--dry-run", "--user", "Bad User"], "not a valid user name"),
        (["--frobnicate"], "unknown option"),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    proc = run_script(tmp_path, *args)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_help(tmp_path: Path) -> None:
    proc = run_script(tmp_path, "--help")
    assert proc.returncode == 0
    for option in ("--dry-run", "--uninstall", "--purge", "--prefix", "--user"):
        assert option in proc.stdout


# ---------------------------------------------------------------- shellcheck
@pytest.mark.skipif(shutil.which("shellcheck") is None,
                    reason="shellcheck is not installed (apt install shellcheck)")
@pytest.mark.parametrize("script", SHELL_SCRIPTS)
def test_shellcheck_is_clean(script: str) -> None:
    proc = subprocess.run(["shellcheck", script], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------- a real run, in a sandbox
SANDBOXED = {  # variable in install-pi → its value, moved below the sandbox root
    "CONFIG_DIR": "/etc/soundscape",
    "UNIT_DIR": "/etc/systemd/system",
    "CACHE_DIR": "/var/cache/soundscape",
    "STATE_DIR": "/var/lib/soundscape",
    "LINK": "/usr/local/bin/soundscape",
    "POLKIT_DIR": "/etc/polkit-1/rules.d",
    "PKLA_DIR": "/etc/polkit-1/localauthority/50-local.d",
    "POLKITD": "/usr/lib/polkit-1/polkitd",
    "SYSTEMD_RUN": "/run/systemd/system",
}
STUBS = {
    # Commands that would change this machine: log and succeed.
    **{name: f'echo "{name} $*" >> "$LOG"' for name in
       ("apt-get", "useradd", "usermod", "userdel", "systemctl", "runuser", "chown")},
    # install -d [-m M] [-o U] [-g G] DIR...: just make the folders.
    "install": 'echo "install $*" >> "$LOG"\n'
               'while [ $# -gt 0 ]; do case "$1" in -d) ;; -m|-o|-g) shift ;; '
               '*) mkdir -p "$1" ;; esac; shift; done',
    # rsync ... SRC/ DST/: a plain copy.
    "rsync": 'echo "rsync $*" >> "$LOG"\nfor last; do :; done\n'
             'for a; do case "$a" in -*) ;; *) [ "$a" = "$last" ] || src="$a" ;; esac; done\n'
             'cp -a "$src." "$last"',
    # python3 -m venv DIR: a fake venv whose python logs what it is asked.
    "python3": 'if [ "$1" = -m ] && [ "$2" = venv ]; then\n'
               '  for v; do :; done; mkdir -p "$v/bin"\n'
               '  echo "include-system-site-packages = true" > "$v/pyvenv.cfg"\n'
               '  printf \'#!/bin/sh\\necho "venv-python $*" >> "$LOG"\\n\' > "$v/bin/python"\n'
               '  chmod +x "$v/bin/python"; echo "python3 $*" >> "$LOG"; exit 0\n'
               'fi\nexec "$REAL_PYTHON" "$@"',
    "id": 'if [ "$*" = "-u" ]; then echo 0; else exec "$REAL_ID" "$@"; fi',
}


def sandbox(tmp_path: Path) -> tuple[Path, Path, dict[str, str], Path]:
    """A copy of the project whose install-pi writes below ``tmp_path/root``."""
    root = tmp_path / "root"
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    (project / "models").mkdir()
    for name in ("appliance", "systemd", "config.example.toml", "pyproject.toml", "README.md"):
        (project / name).symlink_to(PROJECT_ROOT / name)
    (project / "models" / "resnet50_int8.tflite").write_bytes(b"stand-in")
    text = SCRIPT.read_text()
    for var, path in SANDBOXED.items():
        assert f"\n{var}={path}\n" in text, var
        text = text.replace(f"\n{var}={path}\n", f"\n{var}={root}{path}\n")
    (project / "scripts" / "install-pi").write_text(text)
    for folder in ("etc/systemd/system", "usr/local/bin"):
        (root / folder).mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in STUBS.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "commands.log"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(log),
           "REAL_PYTHON": shutil.which("python3") or sys.executable,
           "REAL_ID": shutil.which("id") or "/usr/bin/id"}
    return project, root, env, log


def test_a_real_run_in_a_sandbox_installs_reinstalls_and_uninstalls(tmp_path: Path) -> None:
    project, root, env, log = sandbox(tmp_path)
    prefix = root / "opt" / "soundscape"
    script = ["bash", str(project / "scripts" / "install-pi"), "--prefix", str(prefix)]

    first = subprocess.run(script, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    commands = log.read_text()
    assert "apt-get install -y --no-install-recommends" in commands
    assert "systemctl enable soundscape.service" in commands
    assert f"-e {prefix}[pi]" in commands  # pip, through the venv's python
    assert "warm_up()" in commands and "ensure_demo_corpora" in commands
    unit = (root / "etc/systemd/system/soundscape.service").read_text()
    assert f"ExecStart={prefix}/.venv/bin/soundscape run --config /etc/soundscape/config.toml" \
        in unit
    config = (root / "etc/soundscape/config.toml").read_text()
    assert f'dir = "{root}/var/lib/soundscape/corpora"' in config
    assert (prefix / "pyproject.toml").exists()
    assert (root / "usr/local/bin/soundscape").resolve() == prefix / ".venv/bin/soundscape"

    # Again: the configuration is kept, the venv reused.
    (root / "etc/soundscape/config.toml").write_text("# mine\n")
    second = subprocess.run(script, capture_output=True, text=True, env=env, timeout=120)
    assert second.returncode == 0, second.stderr
    assert (root / "etc/soundscape/config.toml").read_text() == "# mine\n"
    assert "Kept" in second.stdout and "-m venv" not in second.stdout

    # Uninstall: program, unit and caches go; state, own corpora and configuration stay.
    (root / "var/lib/soundscape/corpora/mine").mkdir()
    gone = subprocess.run([*script, "--uninstall"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert gone.returncode == 0, gone.stderr
    assert not prefix.exists()
    assert not (root / "etc/systemd/system/soundscape.service").exists()
    assert not (root / "var/cache/soundscape").exists()
    assert not (root / "usr/local/bin/soundscape").is_symlink()
    assert (root / "var/lib/soundscape/corpora/mine").is_dir()
    assert (root / "etc/soundscape/config.toml").exists()

    purge = subprocess.run([*script, "--uninstall", "--purge"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert purge.returncode == 0, purge.stderr
    assert not (root / "var/lib/soundscape").exists()
    assert not (root / "etc/soundscape").exists()


def test_a_service_that_fails_to_start_still_gets_the_doctor(tmp_path: Path) -> None:
    """systemd running, the restart fails: the doctor still reports, and the script fails."""
    project, root, env, log = sandbox(tmp_path)
    (root / "run/systemd/system").mkdir(parents=True)
    (tmp_path / "bin" / "systemctl").write_text(
        '#!/bin/sh\necho "systemctl $*" >> "$LOG"\n'
        '[ "$1" = restart ] && { echo "Job for soundscape.service failed." >&2; exit 1; }\n'
        'exit 0\n')
    prefix = root / "opt" / "soundscape"
    proc = subprocess.run(["bash", str(project / "scripts" / "install-pi"), "--prefix",
                           str(prefix), "--no-warm"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    commands = log.read_text().splitlines()
    restart = commands.index("systemctl restart soundscape.service")
    assert any("-m appliance.doctor" in c for c in commands[restart:]), commands
    assert "the service did not start" in proc.stderr
    assert "journalctl -u soundscape -b" in proc.stderr


@pytest.mark.parametrize(("polkit", "written"), [
    (None, None),
    ("0.105", "etc/polkit-1/localauthority/50-local.d/50-soundscape.pkla"),
    ("122", "etc/polkit-1/rules.d/50-soundscape.rules"),
])
def test_the_power_off_rule_fits_the_polkit_there(tmp_path: Path, polkit: str | None,
                                                  written: str | None) -> None:
    project, root, env, _log = sandbox(tmp_path)
    if polkit is not None:
        daemon = root / "usr/lib/polkit-1/polkitd"
        daemon.parent.mkdir(parents=True)
        daemon.write_text("#!/bin/sh\n")
        daemon.chmod(0o755)
        (tmp_path / "bin" / "pkaction").write_text(
            f"#!/bin/sh\necho 'pkaction version {polkit}'\n")
        (tmp_path / "bin" / "pkaction").chmod(0o755)
    proc = subprocess.run(["bash", str(project / "scripts" / "install-pi"), "--prefix",
                           str(root / "opt/soundscape"), "--no-warm"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = sorted(str(p.relative_to(root)) for p in (root / "etc").rglob("50-soundscape.*"))
    if written is None:
        assert found == []
        assert "polkit is not installed" in proc.stdout and "apt install polkitd" in proc.stdout
    else:
        assert found == [written]
        text = (root / written).read_text()
        assert "org.freedesktop.login1.power-off" in text and "soundscape" in text
