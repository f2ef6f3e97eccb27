-- wrk's side of the saturation run (loadtest/saturation.py): the load test's request mix at
-- the highest rate wrk's connections reach, from a generator far lighter than locust.
--
--   wrk -t1 -c16 -d20s -s loadtest/wrk_sessions.lua http://127.0.0.1:8000 -- ITEMS RUN_ID
--
-- ITEMS: a file of item ids, one per line (the bundle's). Each thread keeps SESSIONS sessions
-- and takes them in turn, so one session's requests are SESSIONS requests apart and never
-- overlap; a session is a feed, four swipes, a feed, ... (4 swipes : 1 feed), LENGTH requests
-- long, then a new session takes its place. Swipes are on random items with a random watch
-- time (wrk cannot tell which connection an answer came back on, so a swipe cannot follow
-- its own session's page); the service does the same work for any item. Every answer that
-- is not 200 is counted by status, and done() prints one JSON line that saturation.py reads.

local SESSIONS = 2000
local LENGTH = 25
local FEED_EVERY = 5

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

local items = {}
local sessions = {}
local issued = 0
local run_id = "run"
statuses = {} -- global: done() reads it from each thread

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      table.insert(items, line)
    end
  end
  if #items == 0 then
    error("no item ids in " .. args[1])
  end
  run_id = args[2] or run_id
  math.randomseed(thread_number * 7919)
end

local function session_for(slot)
  local session = sessions[slot]
  if session == nil or session.sent >= LENGTH then
    -- the first sessions start at staggered points of their length, so that the mix is
    -- 4 : 1 from the first request on, not a first round of feeds only
    local sent = session == nil and (slot - 1) % LENGTH or 0
    session = { id = string.format("wrk-%s-%d-%d", run_id, thread_number, issued), sent = sent }
    sessions[slot] = session
  end
  session.sent = session.sent + 1
  return session
end

function request()
  issued = issued + 1
  local session = session_for(issued % SESSIONS + 1)
  if session.sent % FEED_EVERY == 1 then
    return wrk.format("GET", "/feed?count=10&session_id=" .. session.id)
  end
  local body = string.format(
    '{"session_id":"%s","item_id":"%s","watch_ms":%d,"duration_ms":10000}',
    session.id,
    items[math.random(#items)],
    math.random(0, 12000)
  )
  return wrk.format("POST", "/swipe", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status ~= 200 then
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local failed = {}
  for status, n in pairs(counts) do
    failed[#failed + 1] = string.format('"%d":%d', status, n)
  end
  local errors = summary.errors
  io.write(
    string.format(
      '\nWRK_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
        .. '"max_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,'
        .. '"timeouts":%d,"statuses":{%s}}\n',
      summary.requests,
      summary.duration,
      latency:percentile(50),
      latency:percentile(90),
      latency:percentile(99),
      latency.max,
      errors.connect,
      errors.read,
      errors.write,
      errors.timeout,
      table.concat(failed, ",")
    )
  )
end
