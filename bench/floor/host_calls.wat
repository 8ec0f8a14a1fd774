;; The price of each host call a proxy-wasm HTTP filter makes, measured against
;; floor_filter.wat (no call at all) by `make bench-instr`. The plugin configuration is a string
;; of operations, run in order on every request:
;;   g  read one request header (x-user-id): proxy_get_header_map_value; the host calls
;;      proxy_on_memory_allocate back for the value
;;   m  read the whole request map: proxy_get_header_map_pairs (and the same call back)
;;   r  write one request header: proxy_replace_header_map_value x-canary-subset: v1
;; A configuration with any other byte, or longer than 64, is refused. One module for every
;; combination, so the floors differ only in the calls they make: the loop that reads the
;; operations costs a few instructions per operation.
(module
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value"
    (func $get_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs"
    (func $get_header_map_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value"
    (func $replace_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  ;; 0..7: the host's (pointer, size) answers; 16..63: constant strings; 256..319: the
  ;; operations; the second page: whatever the host asks memory for (one buffer, reused, since
  ;; nothing the host hands over is kept).
  (memory (export "memory") 2)
  (data (i32.const 16) "x-user-id")
  (data (i32.const 32) "x-canary-subset")
  (data (i32.const 48) "v1")
  (global $operations (mut i32) (i32.const 0))

  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (if (result i32) (i32.gt_u (local.get $size) (i32.const 65536))
      (then (i32.const 0))
      (else (i32.const 65536))))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
    (i32.const 1))

  ;; Copies the operations (buffer type 7: the plugin configuration) and checks each of them.
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (local $at i32)
    (local $byte i32)
    (if (i32.gt_u (local.get $size) (i32.const 64))
      (then (return (i32.const 0))))
    (global.set $operations (i32.const 0))
    (if (i32.eqz (local.get $size))
      (then (return (i32.const 1))))
    (if (call $get_buffer_bytes (i32.const 7) (i32.const 0) (local.get $size)
                                (i32.const 0) (i32.const 4))
      (then (return (i32.const 0))))
    (if (i32.ne (i32.load (i32.const 4)) (local.get $size))
      (then (return (i32.const 0))))
    (block $copied
      (loop $next
        (br_if $copied (i32.ge_u (local.get $at) (local.get $size)))
        (local.set $byte (i32.load8_u (i32.add (i32.load (i32.const 0)) (local.get $at))))
        (if (i32.eqz (i32.or (i32.or (i32.eq (local.get $byte) (i32.const 103))   ;; g
                                     (i32.eq (local.get $byte) (i32.const 109)))  ;; m
                             (i32.eq (local.get $byte) (i32.const 114))))         ;; r
          (then (return (i32.const 0))))
        (i32.store8 offset=256 (local.get $at) (local.get $byte))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $next)))
    (global.set $operations (local.get $size))
    (i32.const 1))

  ;; Map type 0: the request headers. Every answer is ignored: a floor decides nothing.
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (local $at i32)
    (local $op i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $at) (global.get $operations)))
        (local.set $op (i32.load8_u offset=256 (local.get $at)))
        (if (i32.eq (local.get $op) (i32.const 103))
          (then (drop (call $get_header_map_value (i32.const 0) (i32.const 16) (i32.const 9)
                                                  (i32.const 0) (i32.const 4))))
          (else (if (i32.eq (local.get $op) (i32.const 109))
            (then (drop (call $get_header_map_pairs (i32.const 0) (i32.const 0) (i32.const 4))))
            (else (drop (call $replace_header_map_value (i32.const 0) (i32.const 32) (i32.const 15)
                                                        (i32.const 48) (i32.const 2)))))))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $next)))
    ;; Action::Continue
    (i32.const 0)))
