# The plugin image a WasmPlugin pulls (`url: oci://REGISTRY/sticky-canary:TAG`): a scratch image
# whose last (and only) layer holds `plugin.wasm`, the shape Istio's image fetcher extracts the
# module from. Build the module first (`make build`), then:
#   docker build -t REGISTRY/sticky-canary:0.1.0 . && docker push REGISTRY/sticky-canary:0.1.0
# `make image` builds the same image without a Docker daemon (umoci) into build/image/.
FROM scratch
LABEL org.opencontainers.image.title="sticky-canary" \
      org.opencontainers.image.description="proxy-wasm canary router for Envoy and Istio" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY build/sticky_canary.wasm ./plugin.wasm
