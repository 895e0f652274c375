-- wrk script of benches/message-writes: POST one message after another to the channel
-- `big` as one user. The REST token comes from the environment, never the command line.
wrk.method = "POST"
wrk.path = "/api/channels/big/messages"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("MESSAGES_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text":"a new message of about the usual length, sixty-odd bytes of it."}'

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
