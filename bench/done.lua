-- Shared by refresh.lua and forgot.lua: returns wrk's done() for `threads` (each counting `ok`
-- and `other` answers): latency percentiles in ms, then a RESULT line.
return function(threads)
  return function(summary, latency, requests)
    local ok, other = 0, 0
    for _, t in ipairs(threads) do ok = ok + t:get("ok"); other = other + t:get("other") end
    for _, p in ipairs({50, 99}) do
      io.write(string.format("PCT %g %.3f\n", p, latency:percentile(p) / 1000))
    end
    local e = summary.errors
    io.write(string.format("RESULT ok=%d other=%d seconds=%.3f avg=%.3f max=%.3f timeouts=%d socket=%d\n", ok, other,
      summary.duration / 1e6, latency.mean / 1000, latency.max / 1000, e.timeout, e.connect + e.read + e.write))
  end
end
