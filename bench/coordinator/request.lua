-- wrk script: one request, the same every time, from the environment (set by
-- bench/coordinator.sh): BENCH_METHOD, BENCH_PATH, BENCH_BODY (optional), BENCH_AUTH
-- (optional bearer token). Prints one RESULT line; any answer but 2xx is counted as an error.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.path = os.getenv("BENCH_PATH")
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. auth
end

-- Each thread counts its own non-2xx answers; done() sums them.
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
bad = 0
response = function(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end

done = function(summary, latency, requests)
  local non2xx = 0
  for _, t in ipairs(threads) do non2xx = non2xx + (t:get("bad") or 0) end
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, non2xx,
    e.connect + e.read + e.write + e.timeout))
end
