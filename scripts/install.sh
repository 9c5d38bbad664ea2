#!/usr/bin/env bash
# Installs keras-vae and the real Fashion-MNIST files on a fresh Debian machine.
#   bash scripts/install.sh        the package
#   bash scripts/install.sh web    the package and LiteRT.js for `keras-vae export --web` (npm ci in web/)
#   bash scripts/install.sh test   the package, its test dependencies, LiteRT.js, and Debian's
#                                  chromium + chromium-driver for the browser tests (tests/test_web.py)
# Idempotent: apt-get runs only for what is missing, npm ci only when web/node_modules is not
# the locked version.
set -euo pipefail
cd "$(dirname "$0")/.."
run_as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then run_as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive run_as_root apt-get install -y -qq "$@" >/dev/null
}
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  # Dataset hosts are unreachable here; Debian packages the original Fashion-MNIST files.
  apt_install dataset-fashion-mnist
fi
install_web() {
  command -v npm >/dev/null || apt_install nodejs npm
  # LiteRT.js, pinned in web/package.json and web/package-lock.json; the wasm runtime ships inside.
  local wanted installed
  wanted="$(node -p "require('./web/package-lock.json').packages['node_modules/@litertjs/core'].version")"
  installed="$(node -p "try { require('./web/node_modules/@litertjs/core/package.json').version } catch (e) { '' }")"
  if [ "$wanted" != "$installed" ]; then
    (cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}
if [ "${1:-}" = "test" ]; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
  install_web
  python -m pip install --quiet -e ".[test]"
elif [ "${1:-}" = "web" ]; then
  install_web
  python -m pip install --quiet -e .
else
  python -m pip install --quiet -e .
fi
