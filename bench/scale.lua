-- wrk script of bench/scale.sh: reads of stored sessions, each request at
-- a random one so the load is spread over the whole history.
--   SCALE_MODE=get   GET /off-ramp-sessions/{id}, id from SCALE_FILE
--   SCALE_MODE=list  GET /off-ramp-sessions?page_size=20&SCALE_QUERY, with
--                    &page_token=<a line of SCALE_FILE> when SCALE_FILE is set
local mode = os.getenv("SCALE_MODE") or "get"
local query = os.getenv("SCALE_QUERY") or ""
local file = os.getenv("SCALE_FILE") or ""
local auth = os.getenv("BENCH_AUTH")
local lines = {}

function init(args)
  if file ~= "" then
    for line in io.lines(file) do
      lines[#lines + 1] = line
    end
  end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

request = function()
  local headers = {["Authorization"] = auth}
  local path
  if mode == "get" then
    path = "/off-ramp-sessions/" .. lines[math.random(#lines)]
  else
    path = "/off-ramp-sessions?page_size=20"
    if query ~= "" then path = path .. "&" .. query end
    if #lines > 0 then path = path .. "&page_token=" .. lines[math.random(#lines)] end
  end
  return wrk.format("GET", path, headers)
end

response = function(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
