// Your backend's chat-token endpoint, in Express: the browser asks YOUR backend for chat
// tokens, your backend authenticates it and asks ChatSDK with the API key, which never
// leaves the server.
import express from 'express';

const CHATSDK_URL = (process.env.CHATSDK_URL || 'http://localhost:8080').replace(/\/+$/, '');
const CHATSDK_API_KEY = process.env.CHATSDK_API_KEY;
const CENTRIFUGO_WS_URL =
  process.env.CENTRIFUGO_WS_URL || 'ws://localhost:8000/connection/websocket';
const PORT = Number(process.env.PORT || 3000);
const CHATSDK_TIMEOUT_MS = 5000;

if (!CHATSDK_API_KEY) {
  console.error('CHATSDK_API_KEY is not set: create one with `chatsdk app create --name myapp`');
  process.exit(1);
}

// ---- Auth stub: REPLACE WITH YOUR REAL AUTH (session cookie, JWT, passport, …). ----
// Accepts `Authorization: Bearer demo-session-<userId>`, so anyone can be anyone.
function currentUser(req) {
  const match = /^Bearer demo-session-([A-Za-z0-9_-]{1,64})$/.exec(req.get('authorization') || '');
  if (!match) return null;
  const id = match[1];
  return { id, name: id.charAt(0).toUpperCase() + id.slice(1) };
}

/** An error answered to the browser as `{"error":{"code","message"}}`. */
class ApiError extends Error {
  constructor(status, code, message, headers = {}) {
    super(message);
    Object.assign(this, { status, code, headers });
  }
}

/** POST {CHATSDK_URL}/tokens for one user; returns ChatSDK's answer or throws an ApiError. */
async function issueChatTokens(user) {
  let res;
  try {
    res = await fetch(`${CHATSDK_URL}/tokens`, {
      method: 'POST',
      headers: { 'X-API-Key': CHATSDK_API_KEY, 'Content-Type': 'application/json' },
      // image, email and custom (a JSON object) are optional too.
      body: JSON.stringify({ userId: user.id, name: user.name }),
      signal: AbortSignal.timeout(CHATSDK_TIMEOUT_MS),
    });
  } catch (err) {
    if (err.name === 'TimeoutError') {
      throw new ApiError(504, 'chatsdk_timeout', `ChatSDK did not answer within ${CHATSDK_TIMEOUT_MS} ms`);
    }
    console.error(`ChatSDK at ${CHATSDK_URL} is unreachable:`, err.cause?.code || err.cause?.message || err.message);
    throw new ApiError(502, 'chatsdk_unreachable', 'the chat service is unreachable');
  }
  if (res.ok) {
    try {
      return await res.json();
    } catch (err) {
      // The answer was cut off (or stalled past the timeout) after its head arrived.
      if (err.name === 'TimeoutError') {
        throw new ApiError(504, 'chatsdk_timeout', `ChatSDK did not answer within ${CHATSDK_TIMEOUT_MS} ms`);
      }
      console.error(`ChatSDK at ${CHATSDK_URL} broke off its answer:`, err.cause?.code || err.message);
      throw new ApiError(502, 'chatsdk_unreachable', 'the chat service is unreachable');
    }
  }

  const upstream = (await res.json().catch(() => ({}))).error || {};
  console.error(`ChatSDK answered ${res.status} ${upstream.code}: ${upstream.message}`);
  if (res.status === 401) {
    // invalid_api_key / missing_api_key: this backend is misconfigured, not the user.
    throw new ApiError(502, 'chatsdk_auth_failed',
      `ChatSDK refused this backend's API key (${upstream.code}): check CHATSDK_API_KEY`);
  }
  if (res.status === 429) {
    // The limit is per API key, i.e. this whole backend: tell the browser to come back later.
    const retryAfter = res.headers.get('retry-after');
    throw new ApiError(503, 'chatsdk_rate_limited', 'the chat service is busy, retry later',
      retryAfter ? { 'Retry-After': retryAfter } : {});
  }
  if (res.status < 500) {
    throw new ApiError(502, 'chatsdk_rejected',
      `ChatSDK refused the token request (${upstream.code}): ${upstream.message}`);
  }
  throw new ApiError(502, 'chatsdk_unavailable', `the chat service failed (HTTP ${res.status})`);
}

const app = express();

// Express 5 hands errors thrown in async handlers to the error handler below.
app.post('/api/chat-token', async (req, res) => {
  const user = currentUser(req);
  if (!user) {
    throw new ApiError(401, 'unauthenticated', 'sign in first (demo: Authorization: Bearer demo-session-alice)');
  }
  const issued = await issueChatTokens(user);
  res.set('Cache-Control', 'no-store').json({
    token: issued.token,
    wsToken: issued.wsToken,
    expiresIn: issued.expiresIn,
    wsExpiresIn: issued.wsExpiresIn,
    user: issued.user,
    centrifugoUrl: CENTRIFUGO_WS_URL,
  });
});

app.use((err, req, res, _next) => {
  if (!(err instanceof ApiError)) {
    console.error(err);
    err = new ApiError(500, 'internal', 'internal error');
  }
  res.status(err.status).set(err.headers).json({ error: { code: err.code, message: err.message } });
});

// Loopback only: the auth stub above lets anyone in, so keep it off the network.
app.listen(PORT, '127.0.0.1', (err) => {
  if (err) throw err;
  console.log(`chat-token backend on http://127.0.0.1:${PORT}, ChatSDK at ${CHATSDK_URL}`);
});
