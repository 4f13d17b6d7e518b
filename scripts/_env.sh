# shellcheck shell=bash
# Shared set-up for scripts/demo, scripts/test and scripts/bench: create .venv on
# first use and (re)install the project whenever pyproject.toml changes.
# Needs python3 >= 3.11 with venv; no sudo.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SOUNDSCAPE_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

ensure_venv() {
    local extras="$1"
    local stamp="$VENV/.soundscape-installed"
    local want
    want="$extras $(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [ ! -x "$PY" ]; then
        echo "Creating $VENV (first run only) ..." >&2
        python3 -m venv "$VENV"
    fi
    if [ ! -f "$stamp" ] || ! grep -qxF "$want" "$stamp"; then
        echo "Installing the project and its dependencies into $VENV ..." >&2
        "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
        "$PY" -m pip install --quiet --disable-pip-version-check -e "${ROOT}[$extras]" >&2
        echo "$want" >"$stamp"
    fi
    # Numba keeps compiled kernels here so later runs start fast: the same folder as
    # `soundscape run` and `soundscape doctor` use (appliance/paths.py, XDG-aware).
    NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$("$PY" -m appliance.paths numba)}"
    export NUMBA_CACHE_DIR
}

# tflite-runtime 2.14 (the design card's runtime; last release, Python <= 3.11,
# needs numpy < 2) lives in its own small environment so the main one can keep
# numpy 2. The compatibility test and the benchmark use it when present.
ensure_tflite_compat_venv() {
    local compat="${SOUNDSCAPE_TFLITE_VENV:-$ROOT/.venv-tflite}"
    export SOUNDSCAPE_TFLITE_VENV="$compat"
    [ -x "$compat/bin/python" ] && "$compat/bin/python" -c "import tflite_runtime, numpy, PIL" 2>/dev/null && return 0
    local minor
    minor="$(python3 -c 'import sys; print(sys.version_info[1])')"
    if [ "$minor" -gt 11 ]; then
        echo "Note: tflite-runtime 2.14 has no wheels for Python 3.$minor; its compatibility test will skip." >&2
        return 0
    fi
    echo "Creating $compat (tflite-runtime 2.14 compatibility environment) ..." >&2
    if ! { python3 -m venv "$compat" &&
           "$compat/bin/pip" install --quiet --disable-pip-version-check \
               "tflite-runtime==2.14.0" "numpy>=1.24,<2" "pillow>=10,<14" >&2; }; then
        echo "Could not install tflite-runtime 2.14; its compatibility test will skip." >&2
        [ "${CI:-}" = "true" ] && return 1
    fi
    return 0
}

# pyalsaaudio (the ALSA sink's library) compiles against ALSA's headers, so it is not
# in the dev extra: a machine without libasound2-dev would fail to install. Tried here;
# without it the ALSA tests skip and say why. CI installs the headers, so it must work.
ensure_pyalsaaudio() {
    "$PY" -c "import alsaaudio" 2>/dev/null && return 0
    local spec
    spec="$("$PY" -c 'import sys, tomllib
extras = tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]
print(next(d for d in extras["pi"] if d.startswith("pyalsaaudio")))' "$ROOT/pyproject.toml")"
    echo "Installing $spec (the ALSA sink's tests use it) ..." >&2
    if ! "$PY" -m pip install --quiet --disable-pip-version-check "$spec" >&2; then
        echo "Could not build pyalsaaudio (needs: apt install libasound2-dev); its tests will skip." >&2
        [ "${CI:-}" = "true" ] && return 1
    fi
    return 0
}
