#!/usr/bin/env python3
"""Calls whose cost could grow with the size of a channel, against any `chatsdk` binary:
for before/after comparisons with builds older than the member pages (which `cargo
bench --bench history` cannot run, as it needs `nextCursor`).

One `chatsdk serve` (rate limits off, no Centrifugo: the events wait in the outbox), a
channel `big` of N members (joined 1 ms apart) and M messages by one of them, all unread
by the caller (direct SQL, one transaction), then 20 timed calls (after 3 warm-ups) of
each, as the channel's owner:
  GET  /api/channels/big/members   (no query: what a client that does not page gets)
  POST /api/channels/big/members   (one new user each time)
  POST /api/channels/big/members   (100 new users each time)
  GET  /api/channels/big           (the channel: its member count, the caller's unread count)
  GET  /api/channels               (the caller's channel list: the same view)
then, once, DELETE /api/channels/big (one unsubscribe per member goes to the outbox)
while another client calls POST /tokens over and over (how long other writes wait),
and last the caller joins --user-channels more channels (direct SQL), and 20 calls of
  GET  /api/channels?limit=30      (a page of a list that is sorted by activity)

Usage: benches/big-channel.py [--bin target/release/chatsdk] [--members 100000]
                              [--messages 1000000] [--user-channels 100000]
Prints the command, the machine, and per call: p50, max and the response size.
It reports; it never fails on a slow result.
"""
import argparse
import json
import os
import secrets
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("--bin", default="target/release/chatsdk")
parser.add_argument("--members", type=int, default=100_000)
parser.add_argument("--messages", type=int, default=1_000_000)
parser.add_argument("--user-channels", type=int, default=100_000)
args = parser.parse_args()
print(
    f"command: benches/big-channel.py --bin {args.bin} --members {args.members} "
    f"--messages {args.messages} --user-channels {args.user_channels}"
)
print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")

workdir = tempfile.mkdtemp()
db = os.path.join(workdir, "chatsdk.db")
created = subprocess.check_output(
    [args.bin, "--json", "--database", db, "app", "create", "--name", "bench"],
    env=dict(os.environ, RUST_LOG="warn"),
)
api_key = json.loads(created)["apiKey"]
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
env = dict(
    os.environ,
    CHATSDK_ADDR=f"127.0.0.1:{port}",
    CHATSDK_JWT_SECRET=secrets.token_hex(32),
    CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY=secrets.token_hex(32),
    CENTRIFUGO_HTTP_API_KEY=secrets.token_hex(32),
    CENTRIFUGO_URL="http://127.0.0.1:9",
    CHATSDK_RATE_LIMITS="off",
    RUST_LOG="warn",
)
log = open(os.path.join(workdir, "chatsdk.log"), "w")
server = subprocess.Popen([args.bin, "--database", db, "serve"], env=env, stdout=log, stderr=log)
base = f"http://127.0.0.1:{port}"


def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    else:
        headers["X-API-Key"] = api_key
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, method=method, headers=headers, data=data)
    with urllib.request.urlopen(req) as res:
        return res.read()


def timed(method, path, body_for, token):
    """20 calls after 3 warm-ups: sorted latencies (s) and the last response's size."""
    lat, size = [], 0
    for i in range(23):
        started = time.perf_counter()
        size = len(call(method, path, body_for(i), token))
        if i >= 3:
            lat.append(time.perf_counter() - started)
    return sorted(lat), size


try:
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/health")
            break
        except OSError:
            time.sleep(0.1)
    token = json.loads(call("POST", "/tokens", {"userId": "reader"}))["token"]
    call("POST", "/api/channels", {"id": "big"}, token)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA busy_timeout = 10000")
    channel_pk, app_id, joined_at = conn.execute(
        "SELECT c.pk, c.app_id, m.joined_at FROM channels c JOIN members m ON m.channel_pk = c.pk"
    ).fetchone()
    with conn:
        for i in range(1, args.members):
            at = joined_at + i
            cur = conn.execute(
                "INSERT INTO users (app_id, id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (app_id, f"member-{i}", f"Member {i}", at, at),
            )
            conn.execute(
                "INSERT INTO members (channel_pk, user_pk, role, joined_at) VALUES (?, ?, 'member', ?)",
                (channel_pk, cur.lastrowid, at),
            )
        author = conn.execute("SELECT pk FROM users WHERE id = 'member-1'").fetchone()[0]
        text = "a chat line of about the usual length, sixty-odd bytes long, here."
        conn.executemany(
            "INSERT INTO messages (id, channel_pk, seq, user_pk, text, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                (f"msg_bench{seq:012d}", channel_pk, seq, author, text, joined_at + seq)
                for seq in range(1, args.messages + 1)
            ),
        )
        conn.execute(
            "UPDATE channels SET last_seq = ?, activity_at = ? WHERE pk = ?",
            (args.messages, joined_at + args.messages, channel_pk),
        )
    print(f"channel: {args.members} members, {args.messages} messages unread by the caller\n")
    print(f"{'call (20 after 3 warm-ups)':<44} {'p50':>10} {'max':>10} {'response':>12}")
    members = "/api/channels/big/members"
    no_body = lambda i: None  # noqa: E731
    for name, method, path, body_for in [
        ("GET …/members (no query)", "GET", members, no_body),
        ("POST …/members (one new user)", "POST", members, lambda i: {"userIds": [f"new-{i}"]}),
        (
            "POST …/members (100 new users)",
            "POST",
            members,
            lambda i: {"userIds": [f"batch-{i}-{j}" for j in range(100)]},
        ),
        ("GET /api/channels/big", "GET", "/api/channels/big", no_body),
        ("GET /api/channels", "GET", "/api/channels", no_body),
    ]:
        lat, size = timed(method, path, body_for, token)
        print(
            f"{name:<44} {statistics.median(lat) * 1000:>8.2f}ms {lat[-1] * 1000:>8.2f}ms "
            f"{size / 1024:>9.1f}KiB"
        )

    # The delete, while another client calls /tokens (a write) over and over: how long
    # other writes wait while the channel and its messages go.
    outbox = lambda: conn.execute("SELECT count(*) FROM outbox").fetchone()[0]  # noqa: E731
    before = outbox()
    done = threading.Event()
    token_lat = []

    def tokens_meanwhile():
        while not done.is_set():
            started = time.perf_counter()
            call("POST", "/tokens", {"userId": "meanwhile"})
            token_lat.append(time.perf_counter() - started)

    other = threading.Thread(target=tokens_meanwhile)
    other.start()
    time.sleep(0.2)
    started = time.perf_counter()
    call("DELETE", "/api/channels/big", None, token)
    answered = time.perf_counter() - started
    while conn.execute("SELECT count(*) FROM channels WHERE pk = ?", (channel_pk,)).fetchone()[0]:
        time.sleep(0.01)
    gone = time.perf_counter() - started
    time.sleep(0.2)
    done.set()
    other.join()
    token_lat.sort()
    print(
        f"\nDELETE /api/channels/big, once: answered in {answered * 1000:.1f} ms, "
        f"every row gone after {gone * 1000:.0f} ms ({outbox() - before} events queued)"
    )
    print(
        f"  POST /tokens meanwhile, {len(token_lat)} calls: p50 "
        f"{statistics.median(token_lat) * 1000:.2f} ms, p99 "
        f"{token_lat[int(len(token_lat) * 0.99)] * 1000:.2f} ms, max {token_lat[-1] * 1000:.1f} ms"
    )

    reader_pk = conn.execute("SELECT pk FROM users WHERE id = 'reader'").fetchone()[0]
    with conn:
        for i in range(args.user_channels):
            cur = conn.execute(
                "INSERT INTO channels (app_id, id, kind, created_at, updated_at, activity_at)"
                " VALUES (?, ?, 'group', ?, ?, ?)",
                (app_id, f"more-{i}", joined_at, joined_at, joined_at + i),
            )
            conn.execute(
                "INSERT INTO members (channel_pk, user_pk, role, joined_at)"
                " VALUES (?, ?, 'member', ?)",
                (cur.lastrowid, reader_pk, joined_at),
            )
    lat, size = timed("GET", "/api/channels?limit=30", no_body, token)
    print(
        f"the caller in {args.user_channels} channels: GET /api/channels?limit=30 "
        f"p50 {statistics.median(lat) * 1000:.2f} ms, max {lat[-1] * 1000:.2f} ms"
    )
finally:
    server.terminate()
    server.wait()
