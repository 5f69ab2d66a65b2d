-- POST /register with a unique email per request. A client that gets 503 honours Retry-After
-- (pause `backoff_ms`, default 1000). Counts 201 and 503 per thread; done() prints them.
local counter, pause, threads = 0, 0, {}
local backoff = tonumber(os.getenv("BACKOFF_MS") or "1000")
local run = tostring(os.time()) .. tostring(math.random(1, 1e9))

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  created, shed, other = 0, 0, 0
end

function request()
  counter = counter + 1
  local body = string.format('{"email":"b%s-%d-%d@example.com","password":"correct horse"}', run, id, counter)
  return wrk.format("POST", "/register", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status == 503 then shed = shed + 1; pause = backoff
  else other = other + 1 end
end

function delay()
  local d = pause; pause = 0; return d
end

function done(summary, latency, requests)
  local c, s, o = 0, 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); s = s + t:get("shed"); o = o + t:get("other") end
  io.write(string.format("RESULT created=%d shed=%d other=%d seconds=%.3f timeouts=%d\n",
    c, s, o, summary.duration / 1e6, summary.errors.timeout))
end
