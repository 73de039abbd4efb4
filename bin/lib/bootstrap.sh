# Sourced by bin/ scripts: makes sure the project's virtualenv exists and is current.
# Sets ZKPY_ROOT and ZKPY_PYTHON. The venv is rebuilt when pyproject.toml changes.
ZKPY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ZKPY_VENV="${ZKPY_VENV:-$ZKPY_ROOT/.venv}"
ZKPY_PYTHON="$ZKPY_VENV/bin/python"
zkpy_stamp="$ZKPY_VENV/.zkpy-installed"

zkpy_find_python() {
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    echo "zkpy: Python 3.11 or newer is required" >&2
    return 1
}

if [ ! -x "$ZKPY_PYTHON" ] || [ ! -f "$zkpy_stamp" ] || [ "$ZKPY_ROOT/pyproject.toml" -nt "$zkpy_stamp" ]; then
    base_python="$(zkpy_find_python)" || exit 1
    echo "zkpy: setting up $ZKPY_VENV" >&2
    "$base_python" -m venv "$ZKPY_VENV" || exit 1
    "$ZKPY_PYTHON" -m pip install -q --disable-pip-version-check -e "$ZKPY_ROOT[test]" >&2 || exit 1
    touch "$zkpy_stamp"
fi
