-- wrk script: POST the seed session with a fresh Idempotency-Key each time.
-- Body and auth come from the environment (set by bench/run.sh).
local counter = 0
local body = os.getenv("BENCH_BODY")
local auth = os.getenv("BENCH_AUTH")
local prefix = os.getenv("BENCH_KEY_PREFIX") or "bench"

function setup(thread)
  thread:set("tid", tostring(math.random(1, 1e9)))
end

request = function()
  counter = counter + 1
  local headers = {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. "-" .. tid .. "-" .. counter,
  }
  return wrk.format("POST", "/off-ramp-sessions", headers, body)
end

response = function(status, headers, body)
  if status ~= 201 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
