#!/usr/bin/env bash
# Installs keras-vae and the real Fashion-MNIST files on a fresh Debian machine.
#   bash scripts/install.sh        the package
#   bash scripts/install.sh test   the package and its test dependencies
set -euo pipefail
cd "$(dirname "$0")/.."
run_as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  # Dataset hosts are unreachable here; Debian packages the original Fashion-MNIST files.
  run_as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive run_as_root apt-get install -y -qq dataset-fashion-mnist
fi
if [ "${1:-}" = "test" ]; then
  python -m pip install --quiet -e ".[test]"
else
  python -m pip install --quiet -e .
fi
