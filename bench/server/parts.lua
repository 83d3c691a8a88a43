-- wrk script: POST /v1/uploads/{id}/parts asking for N part URLs.
-- The path, token and N come from the environment (set by bench/server.sh).
local n = tonumber(os.getenv("HOIST_BENCH_PARTS") or "1")
local numbers = {}
for i = 1, n do numbers[i] = tostring(i) end
wrk.method = "POST"
wrk.path = os.getenv("HOIST_BENCH_PATH")
wrk.body = '{"numbers":[' .. table.concat(numbers, ",") .. ']}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("HOIST_BENCH_KEY")

-- Count non-2xx answers so a broken run cannot pass for a fast one.
local bad = 0
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT parts=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f requests=%d errors=%d\n",
    n, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
