#!/usr/bin/env bash
# Sourced by setup.sh and lock.sh: sets PY310 to a Python 3.10 interpreter or exits with a clear message.

find_python310() {
  local candidates=()
  [ -n "${PYTHON310:-}" ] && candidates+=("$PYTHON310")
  if command -v pyenv >/dev/null 2>&1; then
    local root
    root="$(pyenv root)"
    for v in "$root"/versions/3.10*/bin/python3.10; do [ -x "$v" ] && candidates+=("$v"); done
  fi
  for v in "$HOME"/.pyenv/versions/3.10*/bin/python3.10; do [ -x "$v" ] && candidates+=("$v"); done
  command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
  for c in "${candidates[@]}"; do
    if "$c" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

PY310="$(find_python310)" || {
  echo "ERROR: Python 3.10 not found. Rasa 3.6 needs Python 3.8-3.10." >&2
  echo "Install it (e.g. 'pyenv install 3.10') or set PYTHON310=/path/to/python3.10." >&2
  exit 1
}
