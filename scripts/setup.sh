#!/usr/bin/env bash
# Installs the Debian packages Etude needs to build, test and render; idempotent, non-interactive.
# Run as root (or with passwordless sudo) on Debian 12. Does nothing when everything is present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libgtest-dev libgmock-dev
  libcli11-dev nlohmann-json3-dev libcpp-httplib-dev zlib1g-dev
  libdnnl-dev libopenblas-dev
  clang libclang-rt-14-dev
  python3 python3-mido python3-numpy python3-torch
  gnuplot-nox bc
  libfluidsynth-dev fluid-soundfont-gm lilypond sox poppler-utils libxml2-utils
  libzip-dev musescore3
  libopenmpi-dev openmpi-bin
  chromium fonts-liberation
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
command -v npm >/dev/null || missing+=(nodejs npm)

# The browser test's one npm package (playwright-core; it drives Debian's chromium, no download).
install_web_test_deps() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/web"
  [[ -d "$dir/node_modules/playwright-core" ]] && return 0
  echo "setup: npm ci in tests/web (playwright-core)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null) ||
    echo "setup: npm could not install playwright-core; the browser test will be skipped" >&2
}
if [[ ${#missing[@]} -eq 0 ]]; then install_web_test_deps; exit 0; fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "setup: missing packages (${missing[*]}) and not root; install them with apt-get" >&2
    exit 2
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
install_web_test_deps
