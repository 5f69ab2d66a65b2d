-- POST /token/refresh: each thread holds its share of the refresh tokens in $TOKENS (one per
-- line; $THREADS threads) and presents the one each answer returns next (rotation). done()
-- prints latency percentiles (ms) and the count of 200s and of anything else.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  pool, ok, other = {}, 0, 0
  local n, i = tonumber(os.getenv("THREADS")), 0
  for line in io.lines(os.getenv("TOKENS")) do
    if i % n == id then table.insert(pool, line) end
    i = i + 1
  end
end

function request()
  local token = table.remove(pool) or "none-left"
  return wrk.format("POST", "/token/refresh", {["Content-Type"] = "application/json"},
                    '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  local next = status == 200 and body:match('"refresh_token":"([^"]+)"')
  if next then ok = ok + 1; table.insert(pool, next) else other = other + 1 end
end

done = dofile(os.getenv("BENCH_DIR") .. "/done.lua")(threads)
