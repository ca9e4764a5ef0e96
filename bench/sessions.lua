-- wrk script for bench/bench.py (closed loop).
--   BENCH_BODIES=FILE  POST /off-ramp-sessions, one body per line of FILE
--                      taken in turn (64 lines: 64 accounts, one after
--                      another), a fresh Idempotency-Key each time
--   BENCH_PATHS=FILE   GET each line of FILE in turn instead
--   BENCH_AUTH         the Authorization header's value
--   BENCH_KEY_PREFIX   makes the keys of one run unlike any other run's
--   BENCH_QUANTILES=1  done() also prints a BENCHQ line: the latency (ms) at
--                      every 0.1 % from 0.05 % to 99.95 %, so bench/pg_bench.py
--                      can merge two generators' distributions
-- done() prints one line of key=value pairs the bench parses. Non-2xx/3xx
-- answers are counted by wrk itself (summary.errors.status), so there is no
-- response() callback slowing every request down.
local auth = os.getenv("BENCH_AUTH")
local prefix = os.getenv("BENCH_KEY_PREFIX") or "bench"

local function lines(path)
  local t = {}
  if path then
    for l in io.lines(path) do
      if #l > 0 then t[#t + 1] = l end
    end
  end
  return t
end

local bodies = lines(os.getenv("BENCH_BODIES"))
local paths = lines(os.getenv("BENCH_PATHS"))
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", tostring(#threads + 1) .. "-" .. tostring(math.random(1, 1e9)))
  thread:set("offset", #threads * 7)
  threads[#threads + 1] = thread
end

request = function()
  counter = counter + 1
  local i = counter + (offset or 0)
  if #paths > 0 then
    return wrk.format("GET", paths[i % #paths + 1], {["Authorization"] = auth})
  end
  local headers = {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. "-" .. tid .. "-" .. counter,
  }
  return wrk.format("POST", "/off-ramp-sessions", headers, bodies[i % #bodies + 1])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d seconds=%.3f throughput=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
      .. "max_ms=%.3f errors=%d err_status=%d err_transport=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000,
    e.status + e.connect + e.read + e.write + e.timeout, e.status,
    e.connect + e.read + e.write + e.timeout))
  if os.getenv("BENCH_QUANTILES") == "1" then
    local q = {}
    for k = 0, 999 do
      q[#q + 1] = string.format("%.3f", latency:percentile((k + 0.5) / 10) / 1000)
    end
    io.write("BENCHQ " .. table.concat(q, " ") .. "\n")
  end
end
