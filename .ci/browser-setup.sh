#!/usr/bin/env bash
# Installs what tests/test_browser.py needs on a fresh Debian machine: Debian's Chromium (Playwright drives it,
# so no browser download), fonts for the Chinese page and the emoji in the title, and the Playwright Python package
# (pinned like in requirements-dev.txt). Idempotent and quiet: does nothing when everything is already there; prints only on failure.
set -euo pipefail

PLAYWRIGHT_VERSION=1.65.2
APT_PACKAGES=(chromium fonts-noto-cjk fonts-noto-color-emoji)

quietly() {
    local log
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

missing=()
for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    quietly $sudo apt-get update
    quietly $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! python -c "import importlib.metadata as m, sys; sys.exit(m.version('playwright') != '$PLAYWRIGHT_VERSION')" \
        2>/dev/null; then
    quietly python -m pip install --disable-pip-version-check --root-user-action=ignore \
        "playwright==$PLAYWRIGHT_VERSION"
fi
