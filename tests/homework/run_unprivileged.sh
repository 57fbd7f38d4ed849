#!/usr/bin/env bash
# The hostile grading suite (test_hostile.py) run as an unprivileged user: `make
# hostile-unprivileged`, as root (CI). It creates the user when missing, lets it reach the
# checkout and its Python (adding only the search bit, o+x, to folders it cannot enter, and
# restoring them after), gives it its own HOME, TMPDIR and a readable copy of the asset cache,
# and runs pytest as that user. Where that user cannot have user namespaces, the suite fails
# with what to change (it never skips).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PY=${PY:-$ROOT/.venv/bin/python}
USER_NAME=${HOSTILE_USER:-course-hostile}
if [ "$(id -u)" != 0 ]; then
    echo "run as root: it creates the user $USER_NAME and runs the suite as that user" >&2
    exit 2
fi
id -u "$USER_NAME" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
SCRATCH=$(mktemp -d /tmp/hostile-unprivileged.XXXXXX)
RESTORE=()
cleanup() {
    for item in "${RESTORE[@]}"; do chmod "${item%%:*}" "${item#*:}"; done
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
BASE=$("$PY" -c 'import sys; print(sys.base_prefix)')
for path in "$ROOT" "$BASE" "$(dirname "$(readlink -f "$PY")")"; do
    dir=$path
    while [ "$dir" != / ]; do
        if ! runuser -u "$USER_NAME" -- test -x "$dir"; then
            RESTORE+=("$(stat -c %a "$dir"):$dir")
            chmod o+x "$dir"
        fi
        dir=$(dirname "$dir")
    done
done
CACHE=$("$PY" -c 'from course_utils.assets import cache_dir; print(cache_dir())')
mkdir -p "$SCRATCH/cache" "$SCRATCH/home" "$SCRATCH/tmp"
for item in "$CACHE"/*; do
    [ "$(basename "$item")" = wheels ] || cp -a "$item" "$SCRATCH/cache/"
done
chown -R "$USER_NAME" "$SCRATCH"
chmod 755 "$SCRATCH"
echo "hostile suite as $USER_NAME (uid $(id -u "$USER_NAME")), cache copy in $SCRATCH/cache"
runuser -u "$USER_NAME" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$SCRATCH/home" \
    TMPDIR="$SCRATCH/tmp" COURSE_CACHE="$SCRATCH/cache" PYTHONDONTWRITEBYTECODE=1 \
    COURSE_THREADS=1 LANG=C.UTF-8 \
    "$PY" -m pytest -q -p no:cacheprovider --basetemp="$SCRATCH/tmp/pytest" \
    tests/homework/test_hostile.py "$@"
