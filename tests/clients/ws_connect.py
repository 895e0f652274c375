#!/usr/bin/env python3
"""Connects to Centrifugo with the official client (centrifuge-python) and reports, as one
JSON line, what happened: {"connected": bool, "events": [...]}.

usage: ws_connect.py WS_URL TOKEN [TIMEOUT_SECONDS]

The client gets `get_token`, as a real frontend would: if the server says the token
expired (109), the client asks for a new one; we record that and refuse, so the run ends.
"""
import asyncio
import json
import sys

from centrifuge import Client, ClientEventHandler, UnauthorizedError


async def main(url: str, token: str, timeout: float) -> dict:
    events = []
    finished = asyncio.Event()
    result = {"connected": False, "events": events}

    class Handler(ClientEventHandler):
        async def on_connected(self, ctx):
            events.append({"event": "connected", "client": ctx.client})
            result["connected"] = True
            finished.set()

        async def on_disconnected(self, ctx):
            events.append({"event": "disconnected", "code": ctx.code, "reason": ctx.reason})
            finished.set()

        async def on_error(self, ctx):
            events.append({
                "event": "error",
                "code": ctx.code,
                "replyCode": getattr(ctx.error, "code", None),
                "message": str(ctx.error),
            })

    async def get_token():
        events.append({"event": "get_token"})
        raise UnauthorizedError()

    client = Client(url, token=token, get_token=get_token, events=Handler(),
                    max_reconnect_delay=1.0)
    await client.connect()
    try:
        await asyncio.wait_for(finished.wait(), timeout)
    except asyncio.TimeoutError:
        result["timeout"] = True
    await client.disconnect()
    return result


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], seconds))))
