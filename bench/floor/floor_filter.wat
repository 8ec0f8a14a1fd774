;; The floor of any wasm HTTP filter in this Envoy: a proxy-wasm module that accepts any
;; configuration and lets every request through at once. It exports only what the host needs
;; to load it and to call it once per request, so what it costs is the VM's own price.
(module
  (memory (export "memory") 1)
  ;; The host asks for guest memory only when the guest calls it back; this one never does,
  ;; but a loader refuses a module without an allocator.
  (func (export "proxy_on_memory_allocate") (param i32) (result i32)
    (i32.const 1024))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
    (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (i32.const 1))
  ;; Action::Continue
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (i32.const 0)))
