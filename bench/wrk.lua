-- wrk script shared by every workload of bench/run.py.
--
-- Arguments (after `--`): method, path, n_max, body, then any number of "Name: value" headers.
-- Every "{n}" in the path and the body is replaced, per request, by one random integer in
-- 1..n_max (n_max 0: both are used as they are). body "" sends no body. done() prints one line
-- "WRK_JSON {...}" that bench/run.py parses (latencies in microseconds).

local method, path, n_max, body

function init(args)
  method = args[1]
  path = args[2]
  n_max = tonumber(args[3])
  if args[4] ~= "" then
    body = args[4]
  end
  for i = 5, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  local p, b = path, body
  if n_max > 0 then
    local n = tostring(math.random(1, n_max))
    p = (p:gsub("{n}", n))
    if b then
      b = (b:gsub("{n}", n))
    end
  end
  return wrk.format(method, p, nil, b)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
