-- wrk script: POST a report to /api/v1/reports with a unique Idempotency-Key per request.
-- Arguments after "--": <report JSON body> <run id (makes keys unique across runs on one database)>.
-- At the end it prints one line, "WRK_JSON {...}", that bench_intake.py reads.

local threads = {}
local counter = 0
thread_id = 0
run_id = "run"

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_id", #threads)
end

function init(args)
   wrk.method = "POST"
   wrk.body = args[1]
   run_id = args[2] or run_id
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   counter = counter + 1
   wrk.headers["Idempotency-Key"] = run_id .. "-" .. thread_id .. "-" .. counter
   return wrk.format(nil, "/api/v1/reports")
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "non_2xx_3xx": %d, "connect_errors": %d, ' ..
      '"read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max))
end
