#!/usr/bin/env python3
"""A long-lived Centrifugo client for integration tests, built on the official SDK
(centrifuge-python, JSON protocol) and driven by JSON lines.

usage: rt_agent.py WS_URL

stdin, one command per line (every command may carry an "id", echoed in its ack):
  {"op":"connect","token":T,"get_token":true}   create the client (or, if it exists and is
                                                disconnected, set its token) and connect;
                                                acked once connected or disconnected
  {"op":"push_token","token":T}                 queue a token for the client's get_token
  {"op":"subscribe","channel":C,"token":T,"get_token":true,"recoverable":false}
                                                new subscription and subscribe; acked once
                                                subscribed or unsubscribed
  {"op":"push_sub_token","channel":C,"token":T} queue a token for C's get_token
  {"op":"unsubscribe","channel":C}
  {"op":"disconnect"}                           client disconnect; subscriptions are kept
  {"op":"reconnect"}                            connect again; acked like connect
  {"op":"quit"}

stdout, one event per line, each with "event" and "ts":
  ack {id, ok, error?, code?}, connecting, connected, disconnected, error, subscribing,
  subscribed, unsubscribed, sub_error, publication {channel, data, offset, server, tags,
  info}, server_subscribing, server_subscribed, server_unsubscribed,
  get_token {served, channel?}, agent_error {message}.

`"get_token": false` leaves the SDK without a get_token callback: only then does a
subscribe without a token reach the server (with get_token, the SDK asks it first).
Temporary failures (the SDK retries them) are reported as events, not as acks.
"""
import asyncio
import collections
import json
import logging
import sys
import time
import traceback

from centrifuge import (
    Client,
    ClientEventHandler,
    ClientState,
    SubscriptionEventHandler,
    SubscriptionState,
    UnauthorizedError,
)

RECONNECT_DELAY = (0.1, 1.0)


def emit(event: str, **fields) -> None:
    fields = {"event": event, "ts": time.time(), **fields}
    try:
        line = json.dumps(fields, default=repr)
    except Exception as e:  # noqa: BLE001 - a report must never kill the agent
        line = json.dumps({"event": "agent_error", "ts": time.time(),
                           "message": f"cannot encode {event}: {e!r}"})
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def guarded(fn):
    """SDK handlers must not raise: an exception in one stops the client."""

    async def wrapper(*args, **kwargs):
        try:
            return await fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001
            emit("agent_error", message=f"{fn.__name__}: {e!r}",
                 trace=traceback.format_exc())
        return None

    wrapper.__name__ = fn.__name__
    return wrapper


def error_fields(ctx) -> dict:
    err = ctx.error
    return {
        "code": ctx.code,
        "replyCode": getattr(err, "code", None),
        "message": str(err) or type(err).__name__,
    }


def stream_fields(ctx) -> dict:
    pos = ctx.stream_position
    return {
        "channel": ctx.channel,
        "recovered": ctx.recovered,
        "wasRecovering": ctx.was_recovering,
        "recoverable": ctx.recoverable,
        "positioned": ctx.positioned,
        "offset": pos.offset if pos else None,
        "epoch": pos.epoch if pos else None,
        "data": ctx.data,
    }


def publication_fields(channel: str, pub, server: bool) -> dict:
    info = None
    if pub.info is not None:
        info = {"client": pub.info.client, "user": pub.info.user}
    return {
        "channel": channel,
        "data": pub.data,
        "offset": pub.offset,
        "server": server,
        "tags": pub.tags or {},
        "info": info,
    }


class Agent:
    def __init__(self, url: str):
        self.url = url
        self.client = None
        self.tokens = collections.deque()
        self.sub_tokens = collections.defaultdict(collections.deque)
        # Futures resolved by events: connect/reconnect wait for connected or
        # disconnected, subscribe for subscribed or unsubscribed of its channel.
        self.connect_waiters = []
        self.sub_waiters = collections.defaultdict(list)
        self.tasks = set()

    # --- token sources ---

    async def get_token(self) -> str:
        if self.tokens:
            emit("get_token", served=True)
            return self.tokens.popleft()
        emit("get_token", served=False)
        raise UnauthorizedError()

    async def get_sub_token(self, channel: str) -> str:
        queue = self.sub_tokens[channel]
        if queue:
            emit("get_token", channel=channel, served=True)
            return queue.popleft()
        emit("get_token", channel=channel, served=False)
        raise UnauthorizedError()

    # --- waiters ---

    @staticmethod
    def resolve(waiters: list, result: dict) -> None:
        while waiters:
            fut = waiters.pop(0)
            if not fut.done():
                fut.set_result(result)

    def client_handler(self) -> ClientEventHandler:
        agent = self

        class Handler(ClientEventHandler):
            @guarded
            async def on_connecting(self, ctx):
                emit("connecting", code=ctx.code, reason=ctx.reason)

            @guarded
            async def on_connected(self, ctx):
                emit("connected", client=ctx.client, version=ctx.version, data=ctx.data)
                agent.resolve(agent.connect_waiters, {"ok": True})

            @guarded
            async def on_disconnected(self, ctx):
                emit("disconnected", code=ctx.code, reason=ctx.reason)
                agent.resolve(agent.connect_waiters,
                              {"ok": False, "code": ctx.code, "error": ctx.reason})

            @guarded
            async def on_error(self, ctx):
                emit("error", **error_fields(ctx))

            @guarded
            async def on_subscribing(self, ctx):
                emit("server_subscribing", channel=ctx.channel)

            @guarded
            async def on_subscribed(self, ctx):
                emit("server_subscribed", **stream_fields(ctx))

            @guarded
            async def on_unsubscribed(self, ctx):
                emit("server_unsubscribed", channel=ctx.channel)

            @guarded
            async def on_publication(self, ctx):
                emit("publication", **publication_fields(ctx.channel, ctx.pub, True))

        return Handler()

    def sub_handler(self, channel: str) -> SubscriptionEventHandler:
        agent = self

        class Handler(SubscriptionEventHandler):
            @guarded
            async def on_subscribing(self, ctx):
                emit("subscribing", channel=channel, code=ctx.code, reason=ctx.reason)

            @guarded
            async def on_subscribed(self, ctx):
                event = stream_fields(ctx)
                emit("subscribed", **event)
                agent.resolve(agent.sub_waiters[channel], {"ok": True})

            @guarded
            async def on_unsubscribed(self, ctx):
                emit("unsubscribed", channel=channel, code=ctx.code, reason=ctx.reason)
                agent.resolve(agent.sub_waiters[channel],
                              {"ok": False, "code": ctx.code, "error": ctx.reason})

            @guarded
            async def on_error(self, ctx):
                emit("sub_error", channel=channel, **error_fields(ctx))

            @guarded
            async def on_publication(self, ctx):
                emit("publication", **publication_fields(channel, ctx.pub, False))

        return Handler()

    # --- commands ---

    async def op_connect(self, cmd: dict) -> dict:
        token = cmd.get("token") or ""
        if self.client is None:
            self.client = Client(
                self.url,
                events=self.client_handler(),
                token=token,
                get_token=self.get_token if cmd.get("get_token", True) else None,
                min_reconnect_delay=RECONNECT_DELAY[0],
                max_reconnect_delay=RECONNECT_DELAY[1],
                proxy=None,
            )
        elif self.client.state != ClientState.DISCONNECTED:
            return {"ok": False, "error": f"client is {self.client.state.value}"}
        else:
            self.client.set_token(token)
        return await self.connect_and_wait()

    async def op_reconnect(self, _cmd: dict) -> dict:
        if self.client is None:
            return {"ok": False, "error": "no client: connect first"}
        if self.client.state == ClientState.CONNECTED:
            return {"ok": True}
        return await self.connect_and_wait()

    async def connect_and_wait(self) -> dict:
        fut = asyncio.get_running_loop().create_future()
        self.connect_waiters.append(fut)
        await self.client.connect()
        return await fut

    async def op_subscribe(self, cmd: dict) -> dict:
        channel = cmd["channel"]
        if self.client is None:
            return {"ok": False, "error": "no client: connect first"}
        sub = self.client.get_subscription(channel)
        if sub is not None:
            if sub.state != SubscriptionState.UNSUBSCRIBED:
                return {"ok": False, "error": f"subscription to {channel} is {sub.state.value}"}
            # A fresh subscription takes the new token (and options).
            self.client.remove_subscription(sub)
        sub = self.client.new_subscription(
            channel,
            events=self.sub_handler(channel),
            token=cmd.get("token") or "",
            get_token=self.get_sub_token if cmd.get("get_token", True) else None,
            recoverable=bool(cmd.get("recoverable", False)),
            positioned=bool(cmd.get("positioned", False)),
            min_resubscribe_delay=RECONNECT_DELAY[0],
            max_resubscribe_delay=RECONNECT_DELAY[1],
        )
        fut = asyncio.get_running_loop().create_future()
        self.sub_waiters[channel].append(fut)
        await sub.subscribe()
        return await fut

    async def op_unsubscribe(self, cmd: dict) -> dict:
        sub = self.client.get_subscription(cmd["channel"]) if self.client else None
        if sub is None:
            return {"ok": False, "error": f"no subscription to {cmd['channel']}"}
        await sub.unsubscribe()
        return {"ok": True}

    async def op_disconnect(self, _cmd: dict) -> dict:
        if self.client is not None:
            await self.client.disconnect()
        return {"ok": True}

    def op_push_token(self, cmd: dict) -> dict:
        self.tokens.append(cmd["token"])
        return {"ok": True}

    def op_push_sub_token(self, cmd: dict) -> dict:
        self.sub_tokens[cmd["channel"]].append(cmd["token"])
        return {"ok": True}

    async def run_command(self, cmd: dict) -> None:
        op = cmd.get("op")
        try:
            handler = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
            if handler is None:
                result = {"ok": False, "error": f"unknown op {op!r}"}
            else:
                result = handler(cmd)
                if asyncio.iscoroutine(result):
                    result = await result
        except Exception as e:  # noqa: BLE001
            emit("agent_error", message=f"{op}: {e!r}", trace=traceback.format_exc())
            result = {"ok": False, "error": repr(e)}
        emit("ack", id=cmd.get("id"), op=op, **result)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.client is not None:
            try:
                await asyncio.wait_for(self.client.disconnect(), 3)
            except Exception as e:  # noqa: BLE001
                emit("agent_error", message=f"disconnect on exit: {e!r}")


async def stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def main(url: str) -> None:
    loop = asyncio.get_running_loop()

    def on_loop_error(_loop, context):
        exc = context.get("exception")
        emit("agent_error", message=f"{context.get('message')}: {exc!r}")

    loop.set_exception_handler(on_loop_error)
    agent = Agent(url)
    reader = await stdin_reader()
    emit("ready", url=url)
    while True:
        line = await reader.readline()
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise ValueError("a command is a JSON object")
        except ValueError as e:
            emit("agent_error", message=f"bad command {line[:200]!r}: {e}")
            continue
        if cmd.get("op") == "quit":
            emit("ack", id=cmd.get("id"), op="quit", ok=True)
            break
        # Commands run concurrently so a token can be pushed while a connect or
        # subscribe waits; they start in arrival order.
        task = asyncio.ensure_future(agent.run_command(cmd))
        agent.tasks.add(task)
        task.add_done_callback(agent.tasks.discard)
        await asyncio.sleep(0)
    await agent.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(main(sys.argv[1]))
    except KeyboardInterrupt:
        pass
