-- wrk script of bench_service.py: POST /v1/scan with pre-generated listings, each request under a
-- listing id of its own (so every verdict is recorded), and one JSON line of results at the end.
--   wrk -t1 -c32 -d5s -s bench_service.lua URL/v1/scan -- BODIES_FILE ID_PREFIX API_KEY
-- BODIES_FILE: one listing a line, as JSON without its listing_id.

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("thread_id", counter)
   table.insert(threads, thread)
end

function init(args)
   bodies = {}
   for line in io.lines(args[1]) do
      bodies[#bodies + 1] = string.sub(line, 2)   -- without "{": the id goes first
   end
   prefix = args[2] .. "-" .. thread_id .. "-"
   headers = {["Content-Type"] = "application/json", ["X-API-Key"] = args[3]}
   sent = 0
end

function request()
   sent = sent + 1
   local rest = bodies[(sent - 1) % #bodies + 1]
   local body = '{"listing_id":"' .. prefix .. sent .. '",' .. rest
   return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"status_errors": %d, "socket_errors": %d}\n',
      summary.requests, summary.duration, latency:percentile(50.0), latency:percentile(99.0), latency.max,
      e.status, e.connect + e.read + e.write + e.timeout))
end
