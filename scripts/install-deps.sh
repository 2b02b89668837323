#!/usr/bin/env bash
# Installs the Debian packages sdcluster builds against (oneDNN, ZeroMQ, libpng, SQLite) when
# any is missing. Needs root or sudo. Swift itself (6.x) must already be on PATH.
set -euo pipefail
packages=(libdnnl-dev libzmq3-dev libpng-dev libsqlite3-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6 (swift.org) first" >&2; exit 1; }
