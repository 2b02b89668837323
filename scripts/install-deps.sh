#!/usr/bin/env bash
# Installs what sdcluster builds against, when missing:
# - Debian packages: ZeroMQ, libpng, SQLite, pkg-config (needs root or sudo); iproute2 and
#   iptables for the fault test across network namespaces (scripts/cluster-faults.sh);
# - oneDNN 3.2 (Debian 12 ships only 2.6, which is slow on AVX2 CPUs and whose results depend on
#   the thread count): Intel's official build with GNU OpenMP threading, from the PyPI wheels
#   `onednn-cpu-gomp` and `onednn-devel-cpu-gomp` 2023.2.0 (Apache-2.0), checked against pinned
#   SHA-256 sums and unpacked into .deps/onednn/ of this checkout (ignored by git). Package.swift
#   links it from there with an rpath, so the binary runs from anywhere. See docs/engine.md.
# Swift itself (6.x) must already be on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { $sudo apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}

packages=(libzmq3-dev libpng-dev libsqlite3-dev pkg-config libgomp1 iproute2 iptables)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  apt_install "${missing[@]}"
fi

# oneDNN 3.2 from its PyPI wheels (a wheel is a zip file; pip only downloads them here).
ONEDNN_VERSION=3.2.0
ONEDNN_WHEEL_VERSION=2023.2.0
ONEDNN_DIR=.deps/onednn
declare -A ONEDNN_SHA256=(
  [onednn_cpu_gomp-2023.2.0-py2.py3-none-manylinux1_x86_64.whl]=2f22a54d6a890ed14bfa185d42a4be65d8b5b1df85dc1f0f3a9abe31620416fb
  [onednn_devel_cpu_gomp-2023.2.0-py2.py3-none-manylinux1_x86_64.whl]=9763c69e8c907e119056bd52ad918ca84ac9ba939d130a99dfa95ccca3e5e284
)
if [ "$(cat "$ONEDNN_DIR/VERSION" 2>/dev/null)" != "$ONEDNN_VERSION" ]; then
  [ "$(uname -m)" = x86_64 ] || { echo "oneDNN's PyPI build is for x86-64; this machine is $(uname -m)" >&2; exit 1; }
  python3 -m pip --version >/dev/null 2>&1 || { echo "installing: python3-pip (to fetch oneDNN's wheels)" >&2; apt_install python3-pip; }
  echo "installing: oneDNN $ONEDNN_VERSION into $ONEDNN_DIR" >&2
  wheels=$(mktemp -d)
  trap 'rm -rf "$wheels"' EXIT
  python3 -m pip download -q --no-deps --only-binary=:all: --dest "$wheels" \
    "onednn-cpu-gomp==$ONEDNN_WHEEL_VERSION" "onednn-devel-cpu-gomp==$ONEDNN_WHEEL_VERSION"
  for wheel in "${!ONEDNN_SHA256[@]}"; do
    echo "${ONEDNN_SHA256[$wheel]}  $wheels/$wheel" | sha256sum -c --quiet - \
      || { echo "oneDNN wheel $wheel does not match its pinned SHA-256; not installed" >&2; exit 1; }
  done
  rm -rf "$ONEDNN_DIR.new"
  mkdir -p "$ONEDNN_DIR.new/lib"
  python3 - "$wheels" "$ONEDNN_DIR.new" <<'EOF'
import sys, zipfile, pathlib
wheels, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for wheel in sorted(wheels.glob("*.whl")):
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            parts = name.split("/")
            # <pkg>.data/data/{include,lib,share}/...: the headers, the library (one copy), licences.
            if len(parts) < 4 or parts[1] != "data" or parts[-1] == "":
                continue
            rel = pathlib.Path(*parts[2:])
            if rel.parts[0] == "lib" and rel.name != "libdnnl.so.3.2":
                continue
            if rel.parts[0] not in ("include", "lib", "share"):
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(z.read(name))
EOF
  ln -sf libdnnl.so.3.2 "$ONEDNN_DIR.new/lib/libdnnl.so.3"
  ln -sf libdnnl.so.3 "$ONEDNN_DIR.new/lib/libdnnl.so"
  echo "$ONEDNN_VERSION" >"$ONEDNN_DIR.new/VERSION"
  rm -rf "$ONEDNN_DIR"
  mv "$ONEDNN_DIR.new" "$ONEDNN_DIR"
fi

command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6 (swift.org) first" >&2; exit 1; }
