-- Counts answers by HTTP status in every wrk thread and, when the run ends, prints one line the
-- bench reads: "BENCH-JSON {...}" with requests, errors, statuses and latency percentiles (µs).
-- A script that also sets request() loads this one first (see orders.lua).
-- BENCH_ADDRESSES ("host:port,host:port", from wrk.py): thread i connects to the (i mod n)-th, so the
-- connections spread over several ways in to the same shop (the cluster's ingress gateways).

local threads = {}
local addresses = nil

function setup(thread)
  if addresses == nil then  -- setup runs in wrk's main Lua state only: looked up once, there
    addresses = {}
    for host, port in (os.getenv("BENCH_ADDRESSES") or ""):gmatch("([^,]+):(%d+)") do
      table.insert(addresses, wrk.lookup(host, port)[1])
    end
  end
  if #addresses > 0 then
    thread.addr = addresses[#threads % #addresses + 1]
  end
  thread:set("index", #threads)  -- each thread's number, for scripts that spread their requests
  table.insert(threads, thread)
end

statuses = {}  -- per thread (each has its own Lua state); done() adds them up

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses") or {}) do
      total[status] = (total[status] or 0) + n
    end
  end
  local counted = {}
  for status, n in pairs(total) do
    table.insert(counted, string.format('"%d": %d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"duration_us": %d, "requests": %d, "statuses": {%s}, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.duration, summary.requests, table.concat(counted, ", "),
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
