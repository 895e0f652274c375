"""Your backend's chat-token endpoint, in FastAPI: the browser asks YOUR backend for chat
tokens, your backend authenticates it and asks ChatSDK with the API key, which never
leaves the server.

Run: CHATSDK_API_KEY=chatsdk_key_... python app.py   (or: uvicorn app:app --port 3001)
"""
import logging
import os
import re
import sys
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
import uvicorn
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

CHATSDK_URL = os.environ.get("CHATSDK_URL", "http://localhost:8080").rstrip("/")
CHATSDK_API_KEY = os.environ.get("CHATSDK_API_KEY", "")
CENTRIFUGO_WS_URL = os.environ.get(
    "CENTRIFUGO_WS_URL", "ws://localhost:8000/connection/websocket"
)
PORT = int(os.environ.get("PORT", "3001"))
CHATSDK_TIMEOUT_SECONDS = 5.0

if not CHATSDK_API_KEY:
    sys.exit("CHATSDK_API_KEY is not set: create one with `chatsdk app create --name myapp`")

log = logging.getLogger("chat-token")


# ---- Auth stub: REPLACE WITH YOUR REAL AUTH (session cookie, JWT, your user model, …). ----
# Accepts `Authorization: Bearer demo-session-<userId>`, so anyone can be anyone.
def current_user(authorization: str | None) -> dict | None:
    match = re.fullmatch(r"Bearer demo-session-([A-Za-z0-9_-]{1,64})", authorization or "")
    if not match:
        return None
    user_id = match.group(1)
    return {"id": user_id, "name": user_id[:1].upper() + user_id[1:]}


class ApiError(Exception):
    """An error answered to the browser as {"error":{"code","message"}}."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


async def issue_chat_tokens(client: httpx.AsyncClient, user: dict) -> dict:
    """POST {CHATSDK_URL}/tokens for one user; returns ChatSDK's answer or raises ApiError."""
    try:
        res = await client.post(
            f"{CHATSDK_URL}/tokens",
            headers={"X-API-Key": CHATSDK_API_KEY},
            # image, email and custom (a JSON object) are optional too.
            json={"userId": user["id"], "name": user["name"]},
        )
    except httpx.TimeoutException as err:
        raise ApiError(504, "chatsdk_timeout",
                       f"ChatSDK did not answer within {CHATSDK_TIMEOUT_SECONDS:g} s") from err
    except httpx.TransportError as err:
        log.error("ChatSDK at %s is unreachable: %r", CHATSDK_URL, err)
        raise ApiError(502, "chatsdk_unreachable", "the chat service is unreachable") from err
    if res.is_success:
        return res.json()

    try:
        upstream = res.json().get("error") or {}
    except ValueError:
        upstream = {}
    code, message = upstream.get("code"), upstream.get("message")
    log.error("ChatSDK answered %s %s: %s", res.status_code, code, message)
    if res.status_code == 401:
        # invalid_api_key / missing_api_key: this backend is misconfigured, not the user.
        raise ApiError(502, "chatsdk_auth_failed",
                       f"ChatSDK refused this backend's API key ({code}): check CHATSDK_API_KEY")
    if res.status_code == 429:
        # The limit is per API key, i.e. this whole backend: tell the browser to come back later.
        retry_after = res.headers.get("retry-after")
        raise ApiError(503, "chatsdk_rate_limited", "the chat service is busy, retry later",
                       {"Retry-After": retry_after} if retry_after else None)
    if res.status_code < 500:
        raise ApiError(502, "chatsdk_rejected",
                       f"ChatSDK refused the token request ({code}): {message}")
    raise ApiError(502, "chatsdk_unavailable", f"the chat service failed (HTTP {res.status_code})")


@asynccontextmanager
async def lifespan(app: FastAPI):
    # One client for the whole process: it keeps connections to ChatSDK alive.
    async with httpx.AsyncClient(timeout=CHATSDK_TIMEOUT_SECONDS) as client:
        app.state.chatsdk = client
        yield


app = FastAPI(lifespan=lifespan)


@app.exception_handler(ApiError)
async def api_error(_request: Request, err: ApiError) -> JSONResponse:
    body = {"error": {"code": err.code, "message": err.message}}
    return JSONResponse(body, status_code=err.status, headers=err.headers)


@app.post("/api/chat-token")
async def chat_token(request: Request, authorization: Annotated[str | None, Header()] = None):
    user = current_user(authorization)
    if user is None:
        raise ApiError(401, "unauthenticated",
                       "sign in first (demo: Authorization: Bearer demo-session-alice)")
    issued = await issue_chat_tokens(request.app.state.chatsdk, user)
    return JSONResponse(
        {
            "token": issued["token"],
            "wsToken": issued["wsToken"],
            "expiresIn": issued["expiresIn"],
            "wsExpiresIn": issued["wsExpiresIn"],
            "user": issued["user"],
            "centrifugoUrl": CENTRIFUGO_WS_URL,
        },
        headers={"Cache-Control": "no-store"},
    )


if __name__ == "__main__":
    # Loopback only: the auth stub above lets anyone in, so keep it off the network.
    uvicorn.run(app, host="127.0.0.1", port=PORT)
