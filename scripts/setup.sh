#!/usr/bin/env bash
# Creates (or refreshes) the two Python 3.10 virtual environments from the committed lock files.
#   .venvs/rasa  rasa 3.6 + spaCy + jieba      (rasa train/run/test, bot/)
#   .venvs/app   rasa-sdk, FastAPI, SQLAlchemy 2 (actions/, api/, crm/, tests)
# A venv is rebuilt only when its lock file changed since it was built.
set -euo pipefail
cd "$(dirname "$0")/.."
VENVS_DIR="${VENVS_DIR:-.venvs}"

source scripts/python310.sh

pip_install() {  # venv-dir args...: quiet pip, minus the warnings about index mirrors absent on this machine
  local dir="$1"; shift
  "$dir/bin/python" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

build_venv() {  # name lockfile
  local name="$1" lock="$2" dir="$VENVS_DIR/$1"
  local stamp
  stamp="$(sha256sum "$lock" | cut -c1-16)"
  if [ -f "$dir/.lock-stamp" ] && [ "$(cat "$dir/.lock-stamp")" = "$stamp" ]; then
    return 0
  fi
  echo "==> Building $dir from $lock with $PY310"
  rm -rf "$dir"
  "$PY310" -m venv "$dir"
  pip_install "$dir" --upgrade "pip==24.2"
  pip_install "$dir" --no-deps -r "$lock"
  echo "$stamp" > "$dir/.lock-stamp"
}

build_venv rasa requirements/rasa.lock.txt
build_venv app requirements/app.lock.txt

# Browser libraries the API serves (Apache ECharts for the ops dashboard), from the npm registry with the
# committed package-lock.json; reinstalled only when the lock file changed.
install_web_vendor() {
  local dir=api/static/vendor stamp
  stamp="$(sha256sum "$dir/package-lock.json" | cut -c1-16)"
  if [ -f "$dir/node_modules/.lock-stamp" ] && [ "$(cat "$dir/node_modules/.lock-stamp")" = "$stamp" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "WARNING: npm not found: the ops dashboard's charts need it (apt-get install nodejs npm, then make setup)" >&2
    return 0
  fi
  echo "==> Installing $dir from package-lock.json (npm ci)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$stamp" > "$dir/node_modules/.lock-stamp"
}

install_web_vendor
