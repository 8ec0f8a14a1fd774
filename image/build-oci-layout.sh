#!/usr/bin/env bash
# Builds the plugin image of the Dockerfile without a Docker daemon, as an OCI image layout:
#   image/build-oci-layout.sh build/sticky_canary.wasm build/image 0.1.0
# One layer, a gzip tar holding `plugin.wasm` (root-owned, 0644), the shape Istio's fetcher
# accepts (media type application/vnd.oci.image.layer.v1.tar+gzip, plugin.wasm in the last layer).
#
# Reproducible: the same module gives the same manifest digest, so a WasmPlugin can pin it.
# Every timestamp is the epoch and the platform is fixed (a wasm module runs anywhere).
#
# The layer tar is made by GNU tar and added verbatim (`umoci raw add-layer`): layers that
# `umoci insert` 0.4.7 (Debian bookworm) writes lack tar's end-of-archive blocks
# (opencontainers/umoci#436), which strict tar readers reject.
set -euo pipefail

wasm=${1:?usage: $0 MODULE.wasm LAYOUT_DIR TAG}
layout=${2:?usage: $0 MODULE.wasm LAYOUT_DIR TAG}
tag=${3:?usage: $0 MODULE.wasm LAYOUT_DIR TAG}
epoch=1970-01-01T00:00:00Z

command -v umoci >/dev/null || { echo "umoci not found: run 'make image', which installs it" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/root"
install -m 0644 "$wasm" "$work/root/plugin.wasm"
tar --format=ustar --owner=0 --group=0 --numeric-owner --mtime=@0 \
  -C "$work/root" -cf "$work/layer.tar" plugin.wasm

rm -rf "$layout"
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci config --image "$layout:$tag" --no-history --created "$epoch" \
  --architecture amd64 --os linux \
  --config.label org.opencontainers.image.title=sticky-canary \
  --config.label org.opencontainers.image.licenses=Apache-2.0 \
  --config.label "org.opencontainers.image.version=$tag"
umoci raw add-layer --image "$layout:$tag" --history.created "$epoch" \
  --history.created_by "COPY build/sticky_canary.wasm ./plugin.wasm" "$work/layer.tar"
umoci gc --layout "$layout"
chmod -R a+rX "$layout"

manifest=$(grep -o '"digest":"sha256:[0-9a-f]*"' "$layout/index.json" | head -n1 | cut -d: -f3 | tr -d '"')
module=$(sha256sum "$wasm" | cut -d' ' -f1)
echo "OCI image layout $layout (tag $tag)"
echo "  WasmPlugin sha256 for url oci://REGISTRY/sticky-canary:$tag  $manifest  (image manifest digest)"
echo "  WasmPlugin sha256 for an http(s) url of the bare module       $module  (sha256 of the .wasm)"
echo "Push: skopeo copy --preserve-digests oci:$layout:$tag docker://REGISTRY/sticky-canary:$tag"
