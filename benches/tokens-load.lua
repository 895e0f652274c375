-- wrk script of benches/tokens-load: what each request is, by TOKENS_MODE.
--   precreate  POST /tokens for users u-0 .. u-(USERS-1) once each, then the thread stops
--   existing   POST /tokens for those users, unchanged data (the refresh case)
--   changed    the same users, with a `custom` that differs on every request
--   new        POST /tokens for a user id never seen before, every request
--   health     GET /health (the ceiling of the HTTP stack)
--   me         GET /api/me with a REST token (token check + one DB read, no write)
-- The API key and token come from the environment, never from the command line.
local mode = os.getenv("TOKENS_MODE") or "existing"
local users = tonumber(os.getenv("TOKENS_USERS") or "10000")
local nthreads = tonumber(os.getenv("TOKENS_THREADS") or "2")
local run = os.getenv("TOKENS_RUN") or "0"
local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

local counter, answered, share = 0, 0, 0

function init(args)
  if mode == "health" then
    wrk.method = "GET"
    wrk.path = "/health"
    return
  end
  if mode == "me" then
    wrk.method = "GET"
    wrk.path = "/api/me"
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKENS_BEARER")
    return
  end
  wrk.method = "POST"
  wrk.path = "/tokens"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = os.getenv("TOKENS_API_KEY")
  -- This thread's users: every id k with k % nthreads == tid.
  share = math.floor((users - 1 - tid) / nthreads) + 1
end

local function existing_id()
  local k = (tid + counter * nthreads) % users
  return k
end

function request()
  if mode == "health" or mode == "me" then
    return wrk.format()
  end
  local body
  if mode == "new" then
    body = string.format('{"userId":"n-%s-%d-%d","name":"New %d"}', run, tid, counter, counter)
  elseif mode == "changed" then
    local k = existing_id()
    body = string.format('{"userId":"u-%d","name":"User %d","custom":{"v":%d,"t":%d}}',
      k, k, counter, tid)
  else
    local k = existing_id()
    body = string.format('{"userId":"u-%d","name":"User %d"}', k, k)
  end
  counter = counter + 1
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if mode == "precreate" then
    answered = answered + 1
    if answered == share then
      -- wrk's main thread sleeps for the whole -d; the script watching TOKENS_DONE_DIR
      -- interrupts it once every thread has left a mark.
      local mark = io.open(os.getenv("TOKENS_DONE_DIR") .. "/" .. tid, "w")
      if mark then mark:close() end
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
