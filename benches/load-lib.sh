# What benches/tokens-load and benches/tokens-ab share (sourced, not run): a temp work
# dir cleaned up at exit, one real Centrifugo from the checked-in config, and `chatsdk
# serve` processes with their own database and app, users pre-created by wrk.
# The sourcing script sets `bench` (its name, for messages) and runs from the repo root.
# shellcheck shell=bash disable=SC2154

fail() {
  echo "$bench: $*" >&2
  for log in "${work:-/nonexistent}"/*-serve.log; do
    [ -f "$log" ] && tail -5 "$log" >&2
  done
  exit 1
}

# chatsdk_bin: sets `bin` to $CHATSDK_BIN when set (another build: an A/B comparison, a
# profiling build), else builds and uses target/release/chatsdk.
chatsdk_bin() {
  if [ -n "${CHATSDK_BIN:-}" ]; then
    bin="$CHATSDK_BIN"
  else
    cargo build --release --locked --quiet --bin chatsdk
    bin="$PWD/target/release/chatsdk"
  fi
}

# machine_line: what the machine is and how busy, for the bench's header.
machine_line() {
  echo "$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
}

# cpu_ticks PID: the process's CPU time so far (user + system), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# load_setup: checks the tools, makes $work, starts Centrifugo (sets cf_port, cf_internal).
load_setup() {
  command -v wrk >/dev/null || fail "wrk is missing (apt-get install wrk)"
  local centrifugo="${CENTRIFUGO_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/chatsdk/centrifugo-v6.9.1/centrifugo}"
  [ -x "$centrifugo" ] || fail "Centrifugo is missing at $centrifugo (run .ci/run once, or set CENTRIFUGO_BIN)"
  work="$(mktemp -d)"
  pids=()
  trap load_cleanup EXIT
  CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY="$(secret)"
  CENTRIFUGO_HTTP_API_KEY="$(secret)"
  CHATSDK_JWT_SECRET="$(secret)"
  export CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY CENTRIFUGO_HTTP_API_KEY CHATSDK_JWT_SECRET
  cf_port=$(free_port) cf_internal=$(free_port)
  # Centrifugo runs from the temp dir so it picks up no stray .env.
  (cd "$work" && exec "$centrifugo" -c "$OLDPWD/centrifugo/config.json" \
    --http_server.port "$cf_port" --http_server.internal_port "$cf_internal" \
    >"$work/centrifugo.log" 2>&1) &
  pids+=("$!")
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$cf_internal/health" >/dev/null 2>&1 && return
    sleep 0.1
  done
  fail "Centrifugo did not answer its health check: $(tail -3 "$work/centrifugo.log")"
}

load_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

# start_server NAME BIN [ENV]: an app made with the CLI, then `chatsdk serve` (rate limits
# off, synchronous=FULL as shipped) on $work/NAME.db with ENV (K=V words) added;
# sets port_NAME, pid_NAME and key_NAME.
start_server() {
  local name="$1" bin="$2" env="${3:-}" port key pid
  port=$(free_port)
  key=$(CHATSDK_DATABASE="$work/$name.db" "$bin" --json app create --name "$name" 2>>"$work/cli.log" \
    | sed -E 's/.*"apiKey":"([^"]+)".*/\1/')
  [[ "$key" == chatsdk_* ]] || fail "could not create an app with $bin"
  # shellcheck disable=SC2086 # ENV is a list of K=V words
  env $env CHATSDK_DATABASE="$work/$name.db" CHATSDK_ADDR="127.0.0.1:$port" CHATSDK_RATE_LIMITS=off \
    CENTRIFUGO_URL="http://127.0.0.1:$cf_internal" \
    CENTRIFUGO_WS_URL="ws://127.0.0.1:$cf_port/connection/websocket" \
    "$bin" serve >"$work/$name-serve.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || fail "$name: chatsdk serve exited (its log below)"
    sleep 0.1
  done
  printf -v "port_$name" %s "$port"
  printf -v "pid_$name" %s "$pid"
  printf -v "key_$name" %s "$key"
}

# precreate NAME USERS THREADS CONNECTIONS: POST /tokens once for each of the users of
# (a) and (c) (benches/tokens-load.lua, mode precreate); sets `precreated` (requests).
precreate() {
  local name="$1" users="$2" threads="$3" connections="$4" port key w result
  port="port_$name" key="key_$name"
  mkdir -p "$work/done-$name"
  TOKENS_MODE=precreate TOKENS_API_KEY="${!key}" TOKENS_DONE_DIR="$work/done-$name" \
    TOKENS_USERS="$users" TOKENS_THREADS="$threads" TOKENS_RUN="$name" \
    wrk -t"$threads" -c"$connections" -d300s -s "$PWD/benches/tokens-load.lua" \
    "http://127.0.0.1:${!port}" >"$work/precreate-$name.log" 2>&1 &
  w=$!
  # wrk's main thread sleeps for the whole -d: interrupt it once every thread is done.
  while kill -0 "$w" 2>/dev/null && [ "$(find "$work/done-$name" -type f | wc -l)" -lt "$threads" ]; do
    sleep 0.1
  done
  kill -INT "$w" 2>/dev/null || true
  wait "$w" || true
  result=$(grep '^RESULT' "$work/precreate-$name.log") || fail "$name: pre-creating users printed no result"
  # shellcheck disable=SC2034 # every field of the line is set; not all are used here
  local requests duration_us non2xx p50_us p99_us max_us socket_errors
  eval "${result#RESULT }"
  [ "$requests" -ge "$users" ] || fail "$name: pre-creating $users users answered only $requests requests"
  [ "$non2xx" = 0 ] || fail "$name: pre-creating users: $non2xx answers were not 2xx"
  # shellcheck disable=SC2034 # read by the sourcing script
  precreated=$requests
}
