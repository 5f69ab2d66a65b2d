-- GET $WRK_PATH (default /health) with an optional bearer token ($TOKEN); done() prints
-- latency percentiles in milliseconds, one per line, for the table and the chart.
local path = os.getenv("WRK_PATH") or "/health"
local token = os.getenv("TOKEN")

function request()
  local headers = {}
  if token then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("GET", path, headers)
end

function done(summary, latency, requests)
  for _, p in ipairs({50, 75, 90, 95, 99, 99.9, 99.99}) do
    io.write(string.format("PCT %g %.3f\n", p, latency:percentile(p) / 1000))
  end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d seconds=%.3f rps=%.1f non2xx=%d timeouts=%d avg=%.3f max=%.3f socket=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    e.status, e.timeout, latency.mean / 1000, latency.max / 1000, e.connect + e.read + e.write))
end
