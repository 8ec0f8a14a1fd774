#!/usr/bin/env python3
"""`make bench`: the filter side by side with what a user would pick instead, in one Envoy.

One Envoy 1.40 (`--concurrency 1`, pinned to one core) serves one listener per configuration;
the listeners differ only in the filter (and, for Envoy's native choice, in the route action).
wrk, pinned to the other core, drives each in turn, in a shuffled order per round. Results go to
stdout and to build/bench/results.md (+ results.json).

Environment: BENCH_ROUNDS (5), BENCH_SECONDS (5), BENCH_CONNECTIONS (16), BENCH_ENVOY_CPU (0),
BENCH_WRK_CPU (1), BENCH_LATENCY_CONNECTIONS (4), BENCH_LATENCY_DELAY_MS (2),
BENCH_LATENCY_SECONDS (5), BENCH_USERS (1000), BENCH_MODULE (build/sticky_canary.wasm),
BENCH_EXTRA_MODULES ("label=path,...": more builds of the plugin, direct mode),
BENCH_ONLY ("name,...": a subset of the listeners, printed raw; for finding where time goes).
"""

import http.client
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "bench"
ENVOY = ROOT / ".venv" / "bin" / "envoy"
MODULE = Path(os.environ.get("BENCH_MODULE", ROOT / "build" / "sticky_canary.wasm"))
LUA = ROOT / "bench" / "lua" / "sticky_canary.lua"
WRK_SCRIPT = ROOT / "bench" / "wrk" / "users.lua"
FLOOR_WAT = ROOT / "bench" / "floor" / "floor_filter.wat"
GOLDEN = ROOT / "filter" / "core" / "tests" / "data" / "murmur3-contract.json"

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
ENVOY_CPU = os.environ.get("BENCH_ENVOY_CPU", "0")
WRK_CPU = os.environ.get("BENCH_WRK_CPU", "1")
LAT_CONNECTIONS = int(os.environ.get("BENCH_LATENCY_CONNECTIONS", "4"))
LAT_DELAY_MS = int(os.environ.get("BENCH_LATENCY_DELAY_MS", "2"))
LAT_SECONDS = int(os.environ.get("BENCH_LATENCY_SECONDS", "5"))

# Configuration (5): one route, two subsets, a header key, two rules. The rule users are not in
# the golden vectors, so every golden key must land where the contract says.
REALISTIC_CONFIG = {
    "routes": [{
        "name": "service-a",
        "subsets": [{"name": "v1", "weight": 90}, {"name": "v2", "weight": 10}],
        "stickiness": {"keys": [{"header": "x-user-id"}]},
        "rules": [
            {"subset": "v2", "users": ["qa-alice", "qa-bob"]},
            {"subset": "v2", "match": {"headers": [{"name": "x-canary", "exact": "true"}]}},
        ],
    }]
}

# (6): the plugin with the same route restricted to a host no request carries: what the filter
# costs on a route it does not serve (entry, a host read, removing the routing header).
UNMATCHED_CONFIG = {"routes": [dict(REALISTIC_CONFIG["routes"][0],
                                    match={"hosts": ["not-served.invalid"]})]}

# (7): the realistic route bucketing as Unleash's gradual rollout does (`stickiness.bucketing`).
UNLEASH_CONFIG = {"routes": [dict(REALISTIC_CONFIG["routes"][0], stickiness=dict(
    REALISTIC_CONFIG["routes"][0]["stickiness"], bucketing={"unleash": {"groupId": "service-a"}}))]}

# (8): the realistic route with a guard on v2 (issue defaults: 5 %, 100 responses, 30 s, 5 m) and
# a healthy upstream: the response path (keeping each request to its response, reading :status,
# counting by class) and the guard's tick; it never trips here.
GUARD_CONFIG = {"routes": [dict(REALISTIC_CONFIG["routes"][0],
                                guard={"subset": "v2", "maxErrorRate": 0.05})]}
# (9): the realistic route giving anonymous visitors a signed id cookie (`stickiness.assign`),
# keyed by that cookie only. wrk's clients never send it (their x-user-id is no key here), so
# every request is issued a new id: 16 random bytes from the host, an HMAC-SHA256, the stream
# kept until its response and one Set-Cookie added. The worst case; a returning visitor costs
# one HMAC check instead.
ASSIGN_CONFIG = {"routes": [dict(REALISTIC_CONFIG["routes"][0], stickiness={
    "keys": [{"cookie": "canary-uid"}],
    "assign": {"cookie": "canary-uid", "maxAge": 2592000, "httpOnly": True, "secure": True,
               "sameSite": "Lax", "header": "x-canary-uid", "signed": True}})]}
ASSIGN_ENV = {"STICKY_CANARY_COOKIE_KEY": "bench-cookie-key-of-at-least-32-bytes"}

# (10): the realistic route at the edge of a call chain: the decision also written to the lane, a
# W3C baggage member (the costlier form: the baggage header is read and rewritten; wrk sends none).
LANE_CONFIG = {"routes": [dict(REALISTIC_CONFIG["routes"][0], lane={"baggage": "canary-lane"})]}

# (11): the realistic route with a sticky mirror sample of 5 % of users to v2 (`mirror`).
MIRROR_CONFIG = {"routes": [dict(REALISTIC_CONFIG["routes"][0], mirror={
    "subset": "v2", "percent": 5, "header": "x-canary-mirror"})]}

# (name, label, filter kind, upstream mode). Direct: the listener answers itself by a
# direct_response chosen by the routing header, so the filter's cost is not hidden behind an
# upstream. Proxied: the route table sends to clusters v1/v2 (two more listeners in this Envoy).
VARIANTS = [
    ("none", "(1) no filter", "none", "direct"),
    ("lua", "(3) Lua murmur3", "lua", "direct"),
    ("floor", "(4) do-nothing wasm", "floor", "direct"),
    ("plugin", "(5) sticky-canary", "plugin", "direct"),
    ("unmatched", "(6) sticky-canary, no route matches", "unmatched", "direct"),
    ("unleash", "(7) sticky-canary, Unleash bucketing", "unleash", "direct"),
    ("guard", "(8) sticky-canary, guard on v2 (healthy)", "guard", "direct"),
    ("assign", "(9) sticky-canary, assign: a new signed id per request", "assign", "direct"),
    ("lane", "(10) sticky-canary, edge lane (baggage)", "lane", "direct"),
    ("mirror", "(11) sticky-canary, mirror 5 %", "mirror", "direct"),
    ("none_p", "(1) no filter", "none", "proxied"),
    ("native_p", "(2) Envoy weighted_clusters + hash", "native", "proxied"),
    ("lua_p", "(3) Lua murmur3", "lua", "proxied"),
    ("floor_p", "(4) do-nothing wasm", "floor", "proxied"),
    ("plugin_p", "(5) sticky-canary", "plugin", "proxied"),
]


def free_ports(count):
    """Distinct free loopback ports: every socket stays bound until all are chosen, so the kernel
    cannot hand one out twice. Nothing else runs during a benchmark to take them before Envoy."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def hcm(stat_prefix, routes, filters):
    return {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network."
                     "http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": stat_prefix,
            "route_config": {"name": stat_prefix, "virtual_hosts": [
                {"name": stat_prefix, "domains": ["*"], "routes": routes}]},
            "http_filters": filters + [{
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http."
                                          "router.v3.Router"}}],
        },
    }


def listener(name, port, chain):
    return {"name": name,
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
            "filter_chains": [{"filters": [chain]}]}


def served_by(subset):
    return [{"header": {"key": "x-served-by", "value": subset}}]


def answer(subset):
    return {"direct_response": {"status": 200, "body": {"inline_string": subset + "\n"}},
            "response_headers_to_add": served_by(subset)}


def header_routes(mode):
    """Routes on x-canary-subset: v2 when the filter says so, v1 otherwise."""
    def action(subset):
        return answer(subset) if mode == "direct" else {"route": {"cluster": subset}}
    v2_match = {"prefix": "/", "headers": [
        {"name": "x-canary-subset", "string_match": {"exact": "v2"}}]}
    return [dict({"match": v2_match}, **action("v2")), dict({"match": {"prefix": "/"}}, **action("v1"))]


def native_routes():
    return [{"match": {"prefix": "/"}, "route": {
        "weighted_clusters": {"clusters": [{"name": "v1", "weight": 90},
                                           {"name": "v2", "weight": 10}],
                              "use_hash_policy": True},
        "hash_policy": [{"header": {"header_name": "x-user-id"}}]}}]


def wasm_filter(name, code, configuration, env=None):
    vm_config = {"vm_id": name, "runtime": "envoy.wasm.runtime.v8",
                 "code": {"local": {"filename": str(code)}}}
    if env:
        vm_config["environment_variables"] = {"key_values": env}
    return {"name": name, "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {
            "name": name, "root_id": "sticky_canary",
            "vm_config": vm_config,
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                              "value": configuration}}}}


def filters_for(kind, variant, floor_module):
    if kind == "lua":
        return [{"name": "envoy.filters.http.lua", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
            "default_source_code": {"inline_string": LUA.read_text()}}}]
    if kind == "floor":
        return [wasm_filter("floor_" + variant, floor_module, "{}")]
    if kind == "plugin":
        return [wasm_filter("sticky_canary_" + variant, MODULE, json.dumps(REALISTIC_CONFIG))]
    if kind == "unmatched":
        return [wasm_filter("sticky_canary_" + variant, MODULE, json.dumps(UNMATCHED_CONFIG))]
    if kind == "unleash":
        return [wasm_filter("sticky_canary_" + variant, MODULE, json.dumps(UNLEASH_CONFIG))]
    if kind == "guard":
        return [wasm_filter("sticky_canary_" + variant, MODULE, json.dumps(GUARD_CONFIG))]
    if kind == "assign":
        return [wasm_filter("sticky_canary_" + variant, MODULE, json.dumps(ASSIGN_CONFIG),
                            ASSIGN_ENV)]
    if kind == "lane":
        return [wasm_filter("sticky_canary_" + variant, MODULE, json.dumps(LANE_CONFIG))]
    if kind == "mirror":
        return [wasm_filter("sticky_canary_" + variant, MODULE, json.dumps(MIRROR_CONFIG))]
    if kind.startswith("module:"):
        return [wasm_filter("sticky_canary_" + variant, kind[len("module:"):],
                            json.dumps(REALISTIC_CONFIG))]
    return []


def render(ports, admin_port, upstream_ports, floor_module):
    listeners = []
    for name, _, kind, mode in VARIANTS:
        routes = native_routes() if kind == "native" else header_routes(mode)
        listeners.append(listener(name, ports[name], hcm(name, routes,
                                                         filters_for(kind, name, floor_module))))
    clusters = []
    for subset, port in upstream_ports.items():
        listeners.append(listener("upstream_" + subset, port, hcm(
            "upstream_" + subset, [dict({"match": {"prefix": "/"}}, **answer(subset))], [])))
        clusters.append({"name": subset, "type": "STATIC", "connect_timeout": "1s",
                         "load_assignment": {"cluster_name": subset, "endpoints": [{
                             "lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                                 "address": "127.0.0.1", "port_value": port}}}}]}]}})
    return {"admin": {"address": {"socket_address": {"address": "127.0.0.1",
                                                      "port_value": admin_port}}},
            "static_resources": {"listeners": listeners, "clusters": clusters}}


def admin_get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.read().decode()


def request_counts(admin_port):
    text = admin_get(admin_port, "/stats?filter=downstream_rq_total$")
    counts = {}
    for line in text.splitlines():
        m = re.match(r"http\.(\w+)\.downstream_rq_total: (\d+)", line)
        if m:
            counts[m.group(1)] = int(m.group(2))
    return counts


def cpu_ns(pid):
    """On-CPU time of every Envoy thread, from the scheduler's own accounting."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def wrk(port, seconds, connections, delay_ms=0):
    env = dict(os.environ, BENCH_DELAY_MS=str(delay_ms))
    cmd = ["taskset", "-c", WRK_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
           "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}/"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("BENCH_RESULT "))
    return json.loads(line[len("BENCH_RESULT "):])


def served(port, user):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/", headers={"x-user-id": user})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.getheader("x-served-by")


def check_golden(ports):
    """The Lua filter and the plugin must put every golden key where the contract says."""
    cases = [c for c in json.loads(GOLDEN.read_text())["contract"]["cases"]
             if c["salt"] == "service-a" and c.get("key_utf8", "").isascii()
             and c.get("key_utf8", "").isprintable() and c.get("key_utf8")]
    checked = 0
    for case in cases:
        for name in ("lua", "plugin", "lua_p", "plugin_p"):
            got = served(ports[name], case["key_utf8"])
            if got != case["subset"]:
                sys.exit(f"golden check failed: {name} sent {case['key_utf8']!r} (bucket "
                         f"{case['bucket']}) to {got}, contract says {case['subset']}")
            checked += 1
    return len(cases), sorted({c["subset"] for c in cases})


def check_assign(port):
    """The assign listener must issue a signed id on every request wrk sends."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/", headers={"x-user-id": "user-1"})
    response = conn.getresponse()
    response.read()
    conn.close()
    cookies = [v for k, v in response.getheaders() if k.lower() == "set-cookie"]
    if len(cookies) != 1 or not re.match(r"canary-uid=[\w-]{22}\.[\w-]{43}; ", cookies[0]):
        sys.exit(f"assign check failed: the assign listener answered Set-Cookie {cookies}")


def ensure_floor_module():
    OUT.mkdir(parents=True, exist_ok=True)
    module = OUT / "floor_filter.wasm"
    subprocess.run(["wasm-as", str(FLOOR_WAT), "-o", str(module)], check=True)
    return module


def machine():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    envoy_version = subprocess.run([str(ENVOY), "--version"], capture_output=True,
                                   text=True).stdout.strip().splitlines()[-1]
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "envoy": envoy_version, "wrk": wrk_version.splitlines()[0] if wrk_version else "?",
            "loadavg_before": Path("/proc/loadavg").read_text().split()[:3]}


def main():
    for extra in filter(None, os.environ.get("BENCH_EXTRA_MODULES", "").split(",")):
        name, path = extra.split("=", 1)
        # The name is also the listener's stat prefix, read back with \w+.
        VARIANTS.append((re.sub(r"\W", "_", name), f"(5) built with {name}", "module:" + path,
                         "direct"))
    only = os.environ.get("BENCH_ONLY")
    if only:
        VARIANTS[:] = [v for v in VARIANTS if v[0] in only.split(",")]
    for tool in ("wrk", "wasm-as", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: `make bench` installs it (apt: wrk binaryen util-linux)")
    floor_module = ensure_floor_module()
    names = [name for name, *_ in VARIANTS]
    *listener_ports, admin_port, v1_port, v2_port = free_ports(len(names) + 3)
    ports = dict(zip(names, listener_ports))
    upstream_ports = {"v1": v1_port, "v2": v2_port}
    config_path = OUT / "envoy.json"
    config_path.write_text(json.dumps(render(ports, admin_port, upstream_ports, floor_module),
                                      indent=1))
    info = machine()
    log = open(OUT / "envoy.log", "w")
    envoy = subprocess.Popen(
        ["taskset", "-c", ENVOY_CPU, str(ENVOY), "-c", str(config_path), "--concurrency", "1",
         "--use-dynamic-base-id", "--log-level", "warn"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while True:
            if envoy.poll() is not None:
                sys.exit(f"Envoy exited; see {OUT / 'envoy.log'}")
            try:
                if admin_get(admin_port, "/ready").strip() == "LIVE":
                    break
            except OSError:
                pass
            if time.time() > deadline:
                sys.exit("Envoy did not become ready")
            time.sleep(0.2)

        golden = check_golden(ports) if not only else (0, [])
        if "assign" in ports:
            check_assign(ports["assign"])
        print(f"golden check: {golden[0]} keys x 4 listeners agree with the contract", flush=True)

        for name, *_ in VARIANTS:  # warm-up: JITs, connection pools
            wrk(ports[name], 1, CONNECTIONS)

        runs = {name: [] for name, *_ in VARIANTS}
        for round_index in range(ROUNDS):
            order = [name for name, *_ in VARIANTS]
            random.shuffle(order)
            for name in order:
                before_rq = request_counts(admin_port).get(name, 0)
                before_cpu, before_wall = cpu_ns(envoy.pid), time.monotonic()
                result = wrk(ports[name], SECONDS, CONNECTIONS)
                after_cpu, after_wall = cpu_ns(envoy.pid), time.monotonic()
                counted = request_counts(admin_port).get(name, 0) - before_rq
                runs[name].append({
                    "rps": result["requests"] / (result["duration_us"] / 1e6),
                    "cpu_us_per_rq": (after_cpu - before_cpu) / 1e3 / max(counted, 1),
                    "envoy_busy": (after_cpu - before_cpu) / 1e9 / (after_wall - before_wall),
                    "errors": result["errors"],
                    "envoy_requests": counted,
                })
            print(f"round {round_index + 1}/{ROUNDS}: " + ", ".join(
                f"{n} {runs[n][-1]['rps']:.0f}" for n in order), flush=True)

        latency = {}
        for name, *_ in VARIANTS:
            latency[name] = wrk(ports[name], LAT_SECONDS, LAT_CONNECTIONS, LAT_DELAY_MS)
        info["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    finally:
        envoy.terminate()
        envoy.wait(timeout=30)
        log.close()

    if only:
        for name in runs:
            print(name, "rps", [round(x["rps"]) for x in runs[name]], "cpu_us",
                  [round(x["cpu_us_per_rq"], 2) for x in runs[name]])
        return
    report(runs, latency, info, golden)


def report(runs, latency, info, golden):
    rows = {}
    for name, label, kind, mode in VARIANTS:
        r = runs[name]
        lat = latency[name]
        split = lat["served"]
        total = sum(split.values()) or 1
        rows[name] = {
            "label": label, "mode": mode,
            "rps": statistics.median(x["rps"] for x in r),
            "rps_all": [round(x["rps"]) for x in r],
            "cpu_us": statistics.median(x["cpu_us_per_rq"] for x in r),
            "busy": statistics.median(x["envoy_busy"] for x in r),
            "errors": sum(x["errors"] for x in r) + lat["errors"],
            "p50_us": lat["p50_us"], "p99_us": lat["p99_us"],
            "lat_rps": lat["requests"] / (lat["duration_us"] / 1e6),
            "v2_share": split.get("v2", 0) / total,
            "split": split,
        }
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores, Linux {info['kernel']}; "
        f"{info['envoy']}; {info['wrk']}.",
        f"Envoy `--concurrency 1` on CPU {ENVOY_CPU}, wrk `-t1 -c{CONNECTIONS}` on CPU {WRK_CPU}; "
        f"{ROUNDS} rounds x {SECONDS} s per configuration, shuffled order; median shown. "
        f"Load average before/after: {' '.join(info['loadavg_before'])} / "
        f"{' '.join(info['loadavg_after'])}.",
        f"Latency: wrk `-c{LAT_CONNECTIONS}`, each connection pausing {LAT_DELAY_MS} ms between "
        f"requests, {LAT_SECONDS} s; added = minus (1) of the same upstream mode.",
        f"Golden check: {golden[0]} golden keys (salt service-a, subsets {', '.join(golden[1])}) "
        f"sent to the Lua and plugin listeners land where the contract says.",
        "",
    ]
    for mode, title in (("direct", "Direct responses (the filter's own cost)"),
                        ("proxied", "Proxied to an upstream (two more listeners in the same Envoy)")):
        base = rows["none" if mode == "direct" else "none_p"]
        lines += [f"### {title}", "",
                  "| Configuration | req/s (median) | vs (1) | CPU µs/req | vs (4) | Envoy core busy "
                  "| p50 µs (added) | p99 µs (added) | errors | v2 share |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        floor = rows["floor" if mode == "direct" else "floor_p"]
        for name, label, kind, m in VARIANTS:
            if m != mode:
                continue
            row = rows[name]
            lines.append(
                f"| {label} | {row['rps']:.0f} | {row['rps'] / base['rps']:.2f}x | "
                f"{row['cpu_us']:.2f} | {row['cpu_us'] - floor['cpu_us']:+.2f} | "
                f"{row['busy'] * 100:.0f} % | {row['p50_us']} ({row['p50_us'] - base['p50_us']:+d}) | "
                f"{row['p99_us']} ({row['p99_us'] - base['p99_us']:+d}) | {row['errors']} | "
                f"{row['v2_share'] * 100:.1f} % |")
        lines.append("")
    d, p = rows, rows
    lines += [
        "### Target ratios (same run)", "",
        f"- (5)/(3) req/s, direct: {d['plugin']['rps'] / d['lua']['rps']:.2f}x; "
        f"proxied: {p['plugin_p']['rps'] / p['lua_p']['rps']:.2f}x",
        f"- (5) - (4) CPU per request, direct: {d['plugin']['cpu_us'] - d['floor']['cpu_us']:+.2f} µs; "
        f"proxied: {p['plugin_p']['cpu_us'] - p['floor_p']['cpu_us']:+.2f} µs",
        f"- (5)/(1) req/s, direct: {d['plugin']['rps'] / d['none']['rps']:.2f}x; "
        f"proxied: {p['plugin_p']['rps'] / p['none_p']['rps']:.2f}x",
        f"- (5)/(2) req/s, proxied: {p['plugin_p']['rps'] / p['native_p']['rps']:.2f}x",
        f"- module: {MODULE.stat().st_size} bytes ({MODULE.stat().st_size / 1024:.1f} KiB)",
        "",
        "Per-round req/s: " + "; ".join(f"{n} {rows[n]['rps_all']}" for n, *_ in VARIANTS),
    ]
    text = "\n".join(lines) + "\n"
    (OUT / "results.md").write_text(text)
    (OUT / "results.json").write_text(json.dumps({"rows": rows, "machine": info}, indent=1))
    print()
    print(text)


if __name__ == "__main__":
    main()
