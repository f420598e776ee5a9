-- wrk script of bench/: POST a form body with HTTP Basic client credentials, and print a
-- machine-readable summary line (BENCHJSON) for bench/cmd/benchrun.
--
-- Environment:
--   BENCH_BODY     the form body; "{n}" in it is replaced by a number when BENCH_USERS > 0
--   BENCH_BASIC    base64(client_id:client_secret), sent as "Authorization: Basic …"
--   BENCH_USERS    when > 0, request i carries n = (offset + i) mod BENCH_USERS, so requests
--                  name many distinct users (each thread starts at another offset)
--   BENCH_THREADS  wrk's -t, to spread the threads' offsets
local body = os.getenv("BENCH_BODY") or ""
local basic = os.getenv("BENCH_BASIC") or ""
local users = tonumber(os.getenv("BENCH_USERS") or "0") or 0
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1") or 1

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
if basic ~= "" then
  wrk.headers["Authorization"] = "Basic " .. basic
end

local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

if users > 0 then
  local pre, post = body:match("^(.-){n}(.*)$")
  local i = 0
  local offset = 0
  function init(args)
    offset = (tid or 0) * math.floor(users / nthreads)
  end
  function request()
    i = i + 1
    return wrk.format(nil, nil, nil, pre .. ((offset + i) % users) .. post)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
