// Drives the demo page in two headless Chromium contexts (alice and bob) and prints one
// JSON report on stdout; exits 1 on any failure, with the reason in the report.
//
//   node test/two-browsers.mjs <demo url> [--expiry-wait-ms N] [--centrifugo-restart] [--screenshot PATH]
//
// --expiry-wait-ms: after the first exchange, wait N ms (past the tokens' lifetimes the
// server was started with), then check both pages renewed their tokens through getToken,
// stayed connected, and still get messages live.
// --centrifugo-restart: both pages' WebSockets go through Playwright, so bob's can be cut;
// while bob is away the script asks its caller to restart Centrifugo (it prints
// `restart-centrifugo` and waits for a line on stdin, as for `wait-drained`: until ChatSDK
// has published every event), alice makes a channel with bob, and bob, back, must find it.
import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
// These flags keep Chromium from calling home or needing a GPU/sandbox in CI containers.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const LIVE_TIMEOUT_MS = 10_000;

function parseArgs(argv) {
  const [url, ...rest] = argv;
  const opts = { url, expiryWaitMs: 0, centrifugoRestart: false, screenshot: null };
  for (let i = 0; i < rest.length; i += 1) {
    if (rest[i] === '--expiry-wait-ms') opts.expiryWaitMs = Number(rest[(i += 1)]);
    else if (rest[i] === '--centrifugo-restart') opts.centrifugoRestart = true;
    else if (rest[i] === '--screenshot') opts.screenshot = rest[(i += 1)];
    else throw new Error(`unknown argument ${rest[i]}`);
  }
  if (!url) throw new Error('usage: two-browsers.mjs <demo url> [--expiry-wait-ms N] [--centrifugo-restart] [--screenshot PATH]');
  return opts;
}

/** Asks the caller (the Rust test) to do `what`; resolves when it answers on stdin. */
const answers = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(what) {
  console.log(what);
  const { done } = await answers.next();
  if (done) throw new Error(`no answer to ${what}`);
}

/**
 * The page's WebSockets, through Playwright instead of the network: `cut()` closes them
 * and refuses new ones (the page's client keeps trying) until `restore()`.
 */
async function cuttableNetwork(page) {
  const open = new Set();
  let cut = false;
  await page.routeWebSocket(/\/connection\/websocket/, (ws) => {
    if (cut) {
      ws.close();
      return;
    }
    const server = ws.connectToServer();
    const link = { ws, server };
    open.add(link);
    ws.onClose(() => open.delete(link));
  });
  return {
    cut() {
      cut = true;
      for (const { ws, server } of open) {
        ws.close();
        server.close();
      }
      open.clear();
    },
    restore() {
      cut = false;
    },
  };
}

const report = { ok: false, consoleErrors: [], steps: [] };
const step = (name) => report.steps.push(name);
/** Console errors a step expects, `(text, url) => true` for each. */
const expectedErrors = [];

async function openUser(browser, url, userId, beforeSignIn = async () => {}) {
  const context = await browser.newContext({ viewport: { width: 760, height: 560 } });
  const page = await context.newPage();
  await beforeSignIn(page);
  page.on('console', (msg) => {
    const where = msg.location().url;
    // Chromium's own favicon probe, not a request of the page (which declares its icon).
    if (msg.type() !== 'error' || new URL(where || 'about:blank').pathname === '/favicon.ico') return;
    if (expectedErrors.some((expected) => expected(msg.text(), where))) return;
    report.consoleErrors.push(`${userId}: ${msg.text()} (${where})`);
  });
  page.on('pageerror', (err) => report.consoleErrors.push(`${userId}: uncaught ${err.message}`));
  const res = await page.goto(url);
  if (!res || res.status() !== 200) throw new Error(`GET ${url} answered ${res && res.status()}`);
  await page.fill('#user-name', userId);
  await page.click('#sign-in');
  await page.waitForSelector('#status[data-state="connected"]', { timeout: LIVE_TIMEOUT_MS });
  return page;
}

/** The channel's entry in the page's list, waited for up to LIVE_TIMEOUT_MS. */
async function channelEntry(page, channelId) {
  const li = page.locator(`#channels li[data-channel-id="${channelId}"]`);
  await li.waitFor({ timeout: LIVE_TIMEOUT_MS });
  return li;
}

/** Alice creates a channel named `name` and invites bob; its id once bob's list shows it. */
async function createAndInvite(alice, bob, name) {
  await alice.fill('#channel-name', name);
  await alice.click('#create');
  // The page shows the new channel, then subscribes to it (the last one showed live too).
  await alice.locator('#room-title', { hasText: name }).waitFor({ timeout: LIVE_TIMEOUT_MS });
  await alice.waitForSelector('#room-open[data-live="true"]', { timeout: LIVE_TIMEOUT_MS });
  const channelId = await alice.$eval('#channels li.active', (li) => li.dataset.channelId);
  await alice.fill('#invite-user', 'bob');
  await alice.click('#invite');
  await alice.locator('#notice', { hasText: /invited bob|bob joined/ }).waitFor({ timeout: LIVE_TIMEOUT_MS });
  return channelId;
}

/** `by` removes `userId` from a channel, through the REST API with a token of their own. */
async function removeMember(demoUrl, by, channelId, userId) {
  const origin = new URL(demoUrl).origin;
  const json = { 'Content-Type': 'application/json' };
  const tokens = await fetch(`${origin}/demo/token`, { method: 'POST', headers: json, body: JSON.stringify({ userId: by }) });
  if (!tokens.ok) throw new Error(`/demo/token answered ${tokens.status}`);
  const { token } = await tokens.json();
  const path = `/api/channels/${encodeURIComponent(channelId)}/members/${encodeURIComponent(userId)}`;
  const res = await fetch(origin + path, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
  if (res.status !== 204) throw new Error(`removing ${userId} answered ${res.status}`);
}

/** Sends `text` from `from`, waits until `to` shows it; returns the delay in ms. */
async function exchange(from, to, text) {
  await from.fill('#message-text', text);
  const sentAt = Date.now();
  await from.click('#send');
  const li = to.locator('#messages li', { hasText: text });
  await li.waitFor({ timeout: LIVE_TIMEOUT_MS });
  const shownAt = Number(await li.getAttribute('data-shown-at'));
  const shown = await li.locator('.text').textContent();
  if (shown !== text) throw new Error(`the message shows as ${JSON.stringify(shown)}, sent ${JSON.stringify(text)}`);
  return shownAt - sentAt;
}

const stats = (page) => page.$eval('#status', (el) => ({ ...el.dataset }));

async function visibleError(page) {
  const el = page.locator('#error');
  return (await el.isVisible()) ? el.textContent() : null;
}

async function sideBySide(browser, pages, path) {
  const shots = await Promise.all(pages.map((p) => p.screenshot()));
  const context = await browser.newContext({ viewport: { width: 1560, height: 580 } });
  const page = await context.newPage();
  const imgs = shots.map((b) => `<img style="margin:4px;border:2px solid #888" src="data:image/png;base64,${b.toString('base64')}">`);
  await page.setContent(`<body style="margin:0;background:#ccc;display:flex">${imgs.join('')}</body>`);
  await page.screenshot({ path });
  await context.close();
}

async function run(opts) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_BIN)`);
  }
  // launch() gives the browser a fresh temporary profile (--user-data-dir) every run.
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    const network = {};
    const route = (who) => async (page) => {
      if (opts.centrifugoRestart) network[who] = await cuttableNetwork(page);
    };
    const alice = await openUser(browser, opts.url, 'alice', route('alice'));
    const bob = await openUser(browser, opts.url, 'bob', route('bob'));
    step('both signed in and connected');

    // Markup in a name must show as text, never become elements.
    const channelName = `Team <b>chat</b> & "friends"`;
    await alice.fill('#channel-name', channelName);
    await alice.click('#create');
    await alice.waitForSelector('#room-open[data-live="true"]', { timeout: LIVE_TIMEOUT_MS });
    const channelId = await alice.$eval('#channels li.active', (li) => li.dataset.channelId);
    step(`alice created ${channelId}`);

    await alice.fill('#invite-user', 'bob');
    await alice.click('#invite');
    // The answer to the invite or bob's member.added event, whichever comes last.
    await alice.locator('#notice', { hasText: /invited bob|bob joined/ }).waitFor({ timeout: LIVE_TIMEOUT_MS });
    const invitedAt = Date.now();
    // No reload: the channel must arrive through bob's personal channel.
    const entry = await channelEntry(bob, channelId);
    report.inviteShownMs = Date.now() - invitedAt;
    const shownName = await entry.textContent();
    if (shownName !== channelName) throw new Error(`bob sees the channel as ${JSON.stringify(shownName)}`);
    if (await bob.locator('#channels b').count()) throw new Error('the channel name became markup');
    step('bob saw the invitation live');

    await entry.locator('button').click();
    await bob.waitForSelector('#room-open[data-live="true"]', { timeout: LIVE_TIMEOUT_MS });
    step('both subscribed');

    report.latencyMs = {
      aliceToBob: await exchange(alice, bob, 'hello bob <img src=x onerror=alert(1)>'),
      bobToAlice: await exchange(bob, alice, 'hi alice!'),
    };
    if (await bob.locator('#messages img').count()) throw new Error('a message became markup');
    step('messages went both ways live');

    if (opts.expiryWaitMs > 0) {
      const before = { alice: await stats(alice), bob: await stats(bob) };
      await alice.waitForTimeout(opts.expiryWaitMs);
      const after = { alice: await stats(alice), bob: await stats(bob) };
      report.tokens = { before, after };
      for (const [who, s] of Object.entries(after)) {
        if (s.state !== 'connected') throw new Error(`${who} is ${s.state} after the tokens expired`);
        if (Number(s.wsTokenRefreshes) < 1) throw new Error(`${who}'s page never renewed its wsToken through getToken`);
        if (Number(s.subTokenFetches) < 2) throw new Error(`${who}'s page never renewed its subscription token`);
        if (Number(s.reconnects) !== 0) throw new Error(`${who} was disconnected ${s.reconnects} times`);
      }
      report.latencyMs.afterExpiry = await exchange(alice, bob, 'still here after the tokens expired');
      await exchange(bob, alice, 'me too');
      step('tokens renewed, still connected and live');
    }

    // Bob opens a channel while its subscription token is slow to come: the history is
    // loaded first, alice's message is sent and published next, then bob subscribes.
    const secondId = await createAndInvite(alice, bob, 'Second room');
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    await bob.route('**/api/subscription-token', async (r) => { await held; await r.continue(); });
    const history = bob.waitForResponse((r) => r.url().includes('/messages?limit='));
    await (await channelEntry(bob, secondId)).locator('button').click();
    await history;
    const between = 'sent after bob loaded the history, before he subscribed';
    await alice.fill('#message-text', between);
    await alice.click('#send');
    await alice.locator('#messages li', { hasText: between }).waitFor({ timeout: LIVE_TIMEOUT_MS });
    await alice.waitForTimeout(1000); // ChatSDK publishes it meanwhile
    release();
    await bob.waitForSelector('#room-open[data-live="true"]', { timeout: LIVE_TIMEOUT_MS });
    await bob.unroute('**/api/subscription-token');
    try {
      await bob.locator('#messages li', { hasText: between }).waitFor({ timeout: LIVE_TIMEOUT_MS });
    } catch {
      throw new Error('a message sent between loading the history and subscribing never showed');
    }
    step('a message sent while bob was subscribing showed');

    if (opts.centrifugoRestart) {
      network.bob.cut();
      await ask('restart-centrifugo');
      await alice.waitForSelector('#status[data-state="connected"]', { timeout: LIVE_TIMEOUT_MS });
      const awayId = await createAndInvite(alice, bob, 'Made while bob was away');
      await removeMember(opts.url, 'alice', secondId, 'bob');
      // Chromium logs each 404 it gets: bob's page asks about that channel once back.
      const gone = `/api/channels/${encodeURIComponent(secondId)}`;
      expectedErrors.push((text, url) => text.includes('status of 404') && url.includes(gone));
      await ask('wait-drained');
      network.bob.restore();
      step('bob was away while Centrifugo restarted, alice made a channel with him and removed him from another');
      try {
        // Bob's client retries with a growing backoff: allow for its next attempt.
        await bob.locator(`#channels li[data-channel-id="${awayId}"]`).waitFor({ timeout: 3 * LIVE_TIMEOUT_MS });
      } catch {
        throw new Error('bob never saw the channel made while he was away');
      }
      await (await channelEntry(bob, awayId)).locator('button').click();
      await bob.waitForSelector('#room-open[data-live="true"]', { timeout: LIVE_TIMEOUT_MS });
      await exchange(alice, bob, 'you found it');
      step('bob found it and got messages live');
      if (await bob.locator(`#channels li[data-channel-id="${secondId}"]`).count()) {
        throw new Error('bob still lists the channel he was removed from while away');
      }
      step('the channel bob was removed from is gone from his list');
    }

    for (const [who, page] of [['alice', alice], ['bob', bob]]) {
      const error = await visibleError(page);
      if (error) throw new Error(`${who}'s page shows an error: ${error}`);
    }
    if (opts.screenshot) await sideBySide(browser, [alice, bob], opts.screenshot);
    if (report.consoleErrors.length) throw new Error('the pages logged errors');
    report.ok = true;
  } finally {
    await browser.close();
  }
}

try {
  await run(parseArgs(process.argv.slice(2)));
} catch (e) {
  report.error = e.message;
}
console.log(JSON.stringify(report));
process.exit(report.ok ? 0 : 1);
