"""Fills the channel of benches/message-writes with N older messages, in one transaction
beside the running server (as benches/history.rs does in Rust).

Usage: message-fill.py DB N ordered|random
  ordered: message ids as the service makes them since the eighth session of
           BENCHMARKS.md (src/ids.rs, `new_time_ordered_id`): 45 bits of milliseconds,
           then 35 random bits, in base32 digits sorted by byte value;
  random:  ids as builds before it made them (`new_prefixed_id`): 16 random characters.
"""
import os
import random
import sqlite3
import sys

BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
BASE32_SORTED = "234567abcdefghijklmnopqrstuvwxyz"


def ordered_id(ms):
    value = (ms << 35) | random.getrandbits(35)
    return "msg_" + "".join(BASE32_SORTED[(value >> (5 * i)) & 31] for i in range(15, -1, -1))


def random_id(_ms):
    return "msg_" + "".join(BASE32[b & 31] for b in os.urandom(16))


def main():
    db, n, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    make_id = {"ordered": ordered_id, "random": random_id}[kind]
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    conn.execute("PRAGMA cache_size = -256000")
    # IMMEDIATE: the write lock first (the server's relay may be writing too).
    conn.execute("BEGIN IMMEDIATE")
    channel, user, custom, first_at = conn.execute(
        "SELECT channel_pk, user_pk, custom, created_at FROM messages WHERE seq = 1"
    ).fetchone()
    # The history is older than the channel's one message, which becomes the newest:
    # one a millisecond before it, so ordered ids come in increasing order.
    start = first_at - n - 1
    conn.execute("UPDATE messages SET seq = ? WHERE seq = 1", (n + 1,))
    conn.executemany(
        "INSERT INTO messages (id, channel_pk, seq, user_pk, text, custom, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (make_id(start + i), channel, i + 1, user,
             f"message {i + 1}: a chat line of about the usual length, sixty-odd bytes.",
             custom, start + i)
            for i in range(n)
        ),
    )
    conn.execute("UPDATE channels SET last_seq = ? WHERE pk = ?", (n + 1, channel))
    conn.execute("COMMIT")


if __name__ == "__main__":
    main()
