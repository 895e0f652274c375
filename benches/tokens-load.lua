-- wrk script of benches/tokens-load, tokens-ab and message-writes: what each request
-- is, by TOKENS_MODE.
--   precreate  POST /tokens for users u-0 .. u-(USERS-1) once each, then the thread stops
--   existing   POST /tokens for those users, unchanged data (the refresh case)
--   changed    the same users, with a `custom` that differs on every request
--   new        POST /tokens for a user id never seen before, every request
--   health     GET /health (the ceiling of the HTTP stack)
--   me         GET /api/me with a REST token (token check + one DB read, no write)
--   message    POST a message to the channel `big` with a REST token (message-writes)
-- The API key and token come from the environment, never from the command line.
--
-- wrk shares the cores with the server, so the script keeps its own work per request
-- small: GET requests are static (no Lua per request), the refresh requests are built
-- once per thread in `init`, and the bodies that must differ every time are joined to a
-- prebuilt head instead of going through `wrk.format` (which rebuilds every header).
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
local head -- the request up to the Content-Length value
local prebuilt = {}

-- One POST /tokens with `body`, as bytes on the wire.
local function post(body)
  return head .. #body .. "\r\n\r\n" .. body
end

-- The body refreshing existing user k, unchanged.
local function existing_body(k)
  return string.format('{"userId":"u-%d","name":"User %d"}', k, k)
end

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
  if mode == "message" then
    wrk.method = "POST"
    wrk.path = "/api/channels/big/messages"
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKENS_BEARER")
    wrk.headers["Content-Type"] = "application/json"
    wrk.body = '{"text":"a new message of about the usual length, sixty-odd bytes of it."}'
    return
  end
  head = "POST /tokens HTTP/1.1\r\nHost: " .. wrk.headers["Host"] ..
    "\r\nContent-Type: application/json\r\nX-API-Key: " .. os.getenv("TOKENS_API_KEY") ..
    "\r\nContent-Length: "
  -- This thread's users: every id k with k % nthreads == tid.
  share = math.floor((users - 1 - tid) / nthreads) + 1
  if mode == "existing" then
    for i = 0, share - 1 do
      prebuilt[i + 1] = post(existing_body(tid + i * nthreads))
    end
  end
end

-- This thread's users in turn: tid, tid + nthreads, …
local function existing_id()
  return (tid + counter * nthreads) % users
end

-- The static modes send the request wrk builds from wrk.method/path/headers/body.
if mode ~= "health" and mode ~= "me" and mode ~= "message" then
  function request()
    local req
    if mode == "existing" then
      req = prebuilt[counter % share + 1]
    elseif mode == "new" then
      req = post(string.format('{"userId":"n-%s-%d-%d","name":"New %d"}', run, tid, counter, counter))
    elseif mode == "changed" then
      local k = existing_id()
      req = post(string.format('{"userId":"u-%d","name":"User %d","custom":{"v":%d,"t":%d}}',
        k, k, counter, tid))
    else
      req = post(existing_body(existing_id()))
    end
    counter = counter + 1
    return req
  end
end

-- Only precreate needs to see answers: with a `response` function defined, wrk hands every
-- answer's headers to Lua.
if mode == "precreate" then
  function response(status, headers, body)
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
