-- wrk script for `make bench`: every request carries a different x-user-id (cycling over
-- BENCH_USERS users), so every subset is hit. Requests are built once in init() so that wrk's
-- own Lua work per request stays small and equal for every configuration.
--
-- BENCH_DELAY_MS > 0 paces each connection (the fixed lower rate for latency), and then the
-- `x-served-by` response header is counted to measure the split. One line `BENCH_RESULT {...}`
-- (JSON) is printed at the end.

local users = tonumber(os.getenv("BENCH_USERS") or "1000")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local requests = {}
local position = 1
local threads = {}
served = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for i = 1, users do
    requests[i] = wrk.format("GET", "/", { ["x-user-id"] = "user-" .. i })
  end
end

function request()
  local r = requests[position]
  position = position % users + 1
  return r
end

if delay_ms > 0 then
  function delay()
    return delay_ms
  end

  function response(status, headers, body)
    local subset = headers["x-served-by"] or "none"
    served[subset] = (served[subset] or 0) + 1
  end
end

function done(summary, latency, _)
  local e = summary.errors
  local totals = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("served") or {}
    for subset, n in pairs(counts) do
      totals[subset] = (totals[subset] or 0) + n
    end
  end
  local parts = {}
  for subset, n in pairs(totals) do
    table.insert(parts, string.format('"%s":%d', subset, n))
  end
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d,"served":{%s}}\n',
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(parts, ",")))
end
