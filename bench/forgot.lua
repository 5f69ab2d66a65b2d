-- POST /password/forgot for a new address each time (none of them an account): the mail budget
-- counted and the request queued. done() prints latency percentiles (ms) and the count of 202s
-- and of anything else.
local threads = {}
local counter, run = 0, tostring(os.time()) .. tostring(math.random(1, 1e9))

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  ok, other = 0, 0
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/password/forgot", {["Content-Type"] = "application/json"},
                    string.format('{"email":"f%s-%d-%d@bench.example"}', run, id, counter))
end

function response(status, headers, body)
  if status == 202 then ok = ok + 1 else other = other + 1 end
end

done = dofile(os.getenv("BENCH_DIR") .. "/done.lua")(threads)
