"""The modules `make bench-mem` measures to isolate what V8 charges for a module's code.

- `never_run`: the plugin with every function body kept but every entry point Envoy calls
  pointing at a new function that does nothing, so none of the plugin's code ever runs. If it
  costs what the plugin costs, the memory is V8 compiling the code when the module loads, not
  anything the code does.
- `small_functions`: the empty filter plus as many bytes of code as the plugin has, cut into
  ~260-byte functions nobody calls (loads, stores, compares, branches, a call: the shape of
  compiled Rust, without its large functions). What a module of this size costs in V8 at best.
"""

import subprocess
from pathlib import Path

# What each entry point of proxy-wasm ABI 0.2.1 returns when it does nothing: a body with no
# locals, one constant or none, `end`. proxy_on_memory_allocate answers an address in page 0.
DO_NOTHING = {
    "proxy_abi_version_0_2_1": b"\x00\x0b",
    "proxy_on_vm_start": b"\x00\x41\x01\x0b",
    "proxy_on_configure": b"\x00\x41\x01\x0b",
    "proxy_on_context_create": b"\x00\x0b",
    "proxy_on_memory_allocate": b"\x00\x41\x80\x08\x0b",
    "proxy_on_request_headers": b"\x00\x41\x00\x0b",
    "proxy_on_response_headers": b"\x00\x41\x00\x0b",
    "proxy_on_tick": b"\x00\x0b",
}
IMPORT_SECTION, FUNCTION_SECTION, EXPORT_SECTION, CODE_SECTION = 2, 3, 7, 10


def uleb(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_uleb(data, at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def read_name(data, at):
    size, at = read_uleb(data, at)
    return data[at:at + size].decode(), at + size


def sections(module):
    at, found = 8, []
    while at < len(module):
        kind = module[at]
        size, at = read_uleb(module, at + 1)
        found.append((kind, module[at:at + size]))
        at += size
    return found


def never_run(source, target):
    """Writes `target`: `source` with its entry points redirected to do-nothing functions."""
    module = Path(source).read_bytes()
    parts = sections(module)
    imported = 0
    types = []
    exports = []
    for kind, body in parts:
        if kind == IMPORT_SECTION:
            count, at = read_uleb(body, 0)
            for _ in range(count):
                _, at = read_name(body, at)
                _, at = read_name(body, at)
                if body[at] != 0:
                    raise ValueError("only function imports are expected")
                _, at = read_uleb(body, at + 1)
                imported += 1
        elif kind == FUNCTION_SECTION:
            count, at = read_uleb(body, 0)
            for _ in range(count):
                index, at = read_uleb(body, at)
                types.append(index)
        elif kind == EXPORT_SECTION:
            count, at = read_uleb(body, 0)
            for _ in range(count):
                name, at = read_name(body, at)
                what = body[at]
                index, at = read_uleb(body, at + 1)
                exports.append((name, what, index))
    added = []
    redirected = []
    for name, what, index in exports:
        if what == 0 and name in DO_NOTHING:
            added.append((types[index - imported], DO_NOTHING[name]))
            index = imported + len(types) + len(added) - 1
        redirected.append((name, what, index))
    if len(added) < 4:
        raise ValueError(f"{source}: found only {len(added)} proxy-wasm entry points")
    out = bytearray(module[:8])
    for kind, body in parts:
        if kind == FUNCTION_SECTION:
            body = uleb(len(types) + len(added)) + b"".join(
                uleb(t) for t in types + [t for t, _ in added])
        elif kind == EXPORT_SECTION:
            body = uleb(len(redirected)) + b"".join(
                uleb(len(name)) + name.encode() + bytes([what]) + uleb(index)
                for name, what, index in redirected)
        elif kind == CODE_SECTION:
            count, at = read_uleb(body, 0)
            body = uleb(count + len(added)) + body[at:] + b"".join(
                uleb(len(code)) + code for _, code in added)
        out += bytes([kind]) + uleb(len(body)) + body
    Path(target).write_bytes(out)


def code_bytes(path):
    """Bytes of function bodies in a module (its code section less the count)."""
    for kind, body in sections(Path(path).read_bytes()):
        if kind == CODE_SECTION:
            return len(body) - len(uleb(read_uleb(body, 0)[0]))
    return 0


def small_functions(floor_wat, target, code_size):
    """Writes `target`: the empty filter of `floor_wat` plus ~`code_size` bytes of small
    functions, all in a table so that none is dead code to any tool."""
    functions = []
    index = 0
    wat_path = Path(target).with_suffix(".wat")
    while True:
        blocks = []
        for step in range(4):
            salt = index * 7 + step
            # Every third block calls the previous function, as compiled code calls helpers.
            called = (f"(call $f{index - 1} (local.get $c) (local.get $d))"
                      if index and step % 3 == 0
                      else f"(i32.xor (local.get $c) (i32.const {salt}))")
            blocks.append(f"""
    (local.set $c (i32.load offset={salt % 64 * 4} (local.get $a)))
    (if (i32.lt_u (local.get $c) (local.get $b))
      (then (local.set $d (i32.add (local.get $d) {called}))
            (i32.store offset={salt % 32 * 4} (local.get $a) (local.get $d)))
      (else (local.set $e (i32.sub (local.get $e) (i32.shl (local.get $c) (i32.const {step}))))
            (br_if 0 (i32.eqz (local.get $e)))))
    (local.set $g (i32.or (local.get $g) (i32.and (local.get $d) (local.get $e))))""")
        functions.append(f"  (func $f{index} (param $a i32) (param $b i32) (result i32)"
                         f" (local $c i32) (local $d i32) (local $e i32) (local $g i32)"
                         f"{''.join(blocks)}\n    (local.get $g))")
        index += 1
        if index % 100 == 0:
            floor = Path(floor_wat).read_text()
            body = floor[floor.index("(module") + len("(module"):floor.rindex(")")]
            wat_path.write_text("(module\n" + "\n".join(functions) +
                                f"\n  (table {index} funcref)\n  (elem (i32.const 0) " +
                                " ".join(f"$f{i}" for i in range(index)) + ")\n" + body + ")\n")
            subprocess.run(["wasm-as", str(wat_path), "-o", str(target)], check=True)
            if code_bytes(target) >= code_size:
                return
