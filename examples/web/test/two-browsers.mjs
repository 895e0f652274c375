// Drives the demo page in two headless Chromium contexts (alice and bob) and prints one
// JSON report on stdout; exits 1 on any failure, with the reason in the report.
//
//   node test/two-browsers.mjs <demo url> [--expiry-wait-ms N] [--screenshot PATH]
//
// --expiry-wait-ms: after the first exchange, wait N ms (past the tokens' lifetimes the
// server was started with), then check both pages renewed their tokens through getToken,
// stayed connected, and still get messages live.
import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
// These flags keep Chromium from calling home or needing a GPU/sandbox in CI containers.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const LIVE_TIMEOUT_MS = 10_000;

function parseArgs(argv) {
  const [url, ...rest] = argv;
  const opts = { url, expiryWaitMs: 0, screenshot: null };
  for (let i = 0; i < rest.length; i += 2) {
    if (rest[i] === '--expiry-wait-ms') opts.expiryWaitMs = Number(rest[i + 1]);
    else if (rest[i] === '--screenshot') opts.screenshot = rest[i + 1];
    else throw new Error(`unknown argument ${rest[i]}`);
  }
  if (!url) throw new Error('usage: two-browsers.mjs <demo url> [--expiry-wait-ms N] [--screenshot PATH]');
  return opts;
}

const report = { ok: false, consoleErrors: [], steps: [] };
const step = (name) => report.steps.push(name);

async function openUser(browser, url, userId) {
  const context = await browser.newContext({ viewport: { width: 760, height: 560 } });
  const page = await context.newPage();
  page.on('console', (msg) => {
    const where = msg.location().url;
    // Chromium's own favicon probe, not a request of the page (which declares its icon).
    if (msg.type() !== 'error' || new URL(where || 'about:blank').pathname === '/favicon.ico') return;
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
    const alice = await openUser(browser, opts.url, 'alice');
    const bob = await openUser(browser, opts.url, 'bob');
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
