#!/usr/bin/env bash
# Installs keras-vae and the real Fashion-MNIST files on a fresh Debian machine.
#   bash scripts/install.sh        the package, as a user installs it (built from this checkout)
#   bash scripts/install.sh test   the package as above, its test dependencies, and Debian's
#                                  chromium + chromium-driver for the browser tests (tests/test_web.py)
# Never editable: the suite tests what users install (tests/test_packaging.py), so after changing
# the code, run `bash scripts/install.sh test` again before the tests (it rebuilds the wheel).
# Building the package stages LiteRT.js (npm @litertjs/core, pinned in web/) into it for
# `keras-vae export --web` (setup.py), so npm must be there; the installed package needs neither
# npm nor this checkout. Idempotent: apt-get runs only for what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-}"
case "$target" in
  ""|test) ;;
  *) echo "install.sh: unknown target '$target'; use no argument (the package) or test." >&2; exit 2 ;;
esac
run_as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then run_as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive run_as_root apt-get install -y -qq "$@" >/dev/null
}
missing=()
# Dataset hosts are unreachable here; Debian packages the original Fashion-MNIST files.
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
command -v npm >/dev/null || missing+=(nodejs npm)
if [ "$target" = test ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
fi
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
case "$target" in
  "") python -m pip install --quiet . ;;
  test) python -m pip install --quiet ".[test]" ;;
esac
