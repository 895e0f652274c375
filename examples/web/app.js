// ChatSDK browser demo: plain JS over the official centrifuge-js client (window.Centrifuge).
// Everything users typed reaches the page through textContent/setAttribute only, never
// as HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  /** Share of a token's lifetime after which the page gets a new one. */
  const REFRESH_AT = 0.8;
  const HISTORY_PAGE = 50;
  const CATCH_UP_PAGE = 200;
  const CHANNEL_PAGE = 100;

  const state = {
    userId: null,
    session: null, // the latest POST /demo/token answer: token, wsToken, user, centrifugoUrl…
    refreshTimer: null,
    centrifuge: null,
    connection: 'disconnected',
    channels: new Map(), // channel id → channel
    room: null, // the open channel: {channel, sub, ids: Set, lastSeq, loaded, subscribed}
    // Shown in the status line; the browser test reads them too.
    stats: { tokenFetches: 0, wsTokenRefreshes: 0, subTokenFetches: 0, reconnects: 0 },
  };

  class ApiError extends Error {
    constructor(status, body) {
      const e = body && body.error;
      super(e ? `${e.code}: ${e.message}` : `HTTP ${status}`);
      this.status = status;
      this.code = e ? e.code : null;
    }
  }

  // ---- tokens -----------------------------------------------------------------------

  /** Both tokens from the dev-only token route; schedules the next refresh. */
  async function fetchTokens() {
    const res = await fetch('/demo/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ userId: state.userId, name: state.userId }),
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, body);
    state.session = body;
    state.stats.tokenFetches += 1;
    scheduleRefresh(body.expiresIn);
    renderStatus();
    return body;
  }

  /** Renews the REST token before it expires (the wsToken renews through getToken). */
  function scheduleRefresh(expiresIn) {
    clearTimeout(state.refreshTimer);
    const ms = Math.max(1, expiresIn * REFRESH_AT) * 1000;
    state.refreshTimer = setTimeout(() => {
      fetchTokens().catch((e) => {
        showError(`could not renew the token: ${e.message}`);
        scheduleRefresh(5);
      });
    }, ms);
  }

  /** A call to the chat REST API with the current REST token. */
  async function api(method, path, body, retried = false) {
    const headers = { Authorization: `Bearer ${state.session.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`/api${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 204) return null;
    const data = await res.json().catch(() => null);
    // A tab that slept through its refresh timer, or a token whose API key was rotated
    // out or whose user was signed out: renew once (the backend decides) and retry.
    const renewable = ['token_expired', 'token_revoked'];
    if (res.status === 401 && !retried && data && data.error && renewable.includes(data.error.code)) {
      await fetchTokens();
      return api(method, path, body, true);
    }
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }

  const channelPath = (id) => `/channels/${encodeURIComponent(id)}`;

  /** For getToken: a refusal that retrying cannot fix stops the client's retries. */
  function tokenError(e) {
    const final = e instanceof ApiError && e.status < 500 && e.status !== 429;
    return final ? new Centrifuge.UnauthorizedError(e.message) : e;
  }

  // ---- realtime ---------------------------------------------------------------------

  function connect() {
    const centrifuge = new Centrifuge(state.session.centrifugoUrl, {
      token: state.session.wsToken,
      // Called before the wsToken expires (and after a "token expired" reply).
      getToken: async () => {
        state.stats.wsTokenRefreshes += 1;
        try {
          return (await fetchTokens()).wsToken;
        } catch (e) {
          throw tokenError(e);
        }
      },
    });
    centrifuge.on('state', (ctx) => {
      if (ctx.oldState === 'connected' && ctx.newState !== 'connected') state.stats.reconnects += 1;
      state.connection = ctx.newState;
      renderStatus();
    });
    // The personal channel, subscribed server-side through the wsToken's `channels` claim.
    centrifuge.on('publication', (ctx) => onPersonalEvent(ctx.data));
    // Back, but Centrifugo could not replay it (it restarted, its history is gone): the
    // channels added, left or deleted meanwhile are unknown, so list them again.
    centrifuge.on('subscribed', (ctx) => {
      if (ctx.wasRecovering && !ctx.recovered) {
        loadChannels().catch((e) => showError(`could not reload the channels: ${e.message}`));
      }
    });
    centrifuge.connect();
    state.centrifuge = centrifuge;
  }

  function onPersonalEvent(event) {
    if (!event || !event.data) return;
    if (event.type === 'member.added' && event.data.channel) {
      addChannel(event.data.channel, true);
    } else if (event.type === 'member.removed' || event.type === 'channel.deleted') {
      removeChannel(event.channelId);
    }
  }

  /** Subscribes to the open channel's Centrifugo channel with a subscription token. */
  function subscribe(room) {
    const name = room.channel.realtimeChannel;
    const old = state.centrifuge.getSubscription(name);
    if (old) state.centrifuge.removeSubscription(old);
    const sub = state.centrifuge.newSubscription(name, {
      getToken: async ({ channel }) => {
        state.stats.subTokenFetches += 1;
        renderStatus();
        try {
          return (await api('POST', '/subscription-token', { channel })).token;
        } catch (e) {
          throw tokenError(e); // e.g. 404: no longer a member
        }
      },
    });
    sub.on('publication', (ctx) => onChatEvent(room, ctx.data));
    sub.on('state', (ctx) => {
      if (state.room === room) $('room-open').dataset.live = String(ctx.newState === 'subscribed');
    });
    sub.on('subscribed', (ctx) => {
      room.subscribed = true;
      // Nothing replayed: the first time, what was sent after the history was read and
      // before the subscription took effect; after a reconnect, what Centrifugo could not
      // replay. Ask the REST API (once the history is in: openChannel asks otherwise).
      if (!ctx.recovered && room.loaded) catchUp(room);
    });
    sub.subscribe();
    room.sub = sub;
  }

  function onChatEvent(room, event) {
    if (state.room !== room || !event) return;
    switch (event.type) {
      case 'message.new':
        if (event.seq > room.lastSeq + 1 && room.loaded) catchUp(room);
        showMessage(room, event.data);
        break;
      case 'message.updated':
      case 'message.deleted':
        showMessage(room, event.data);
        break;
      case 'member.added':
        notice(`${displayName(event.data.member.user)} joined`);
        break;
      case 'channel.updated':
        addChannel(event.data, false);
        break;
      default:
        break;
    }
  }

  /** Fetches what came after the last message shown (a gap, or a failed recovery). */
  async function catchUp(room) {
    try {
      // Page by page (a long time away can be more than one), while the room is shown.
      let after = room.lastSeq;
      for (let more = true; more && state.room === room;) {
        const page = await api('GET', `${channelPath(room.channel.id)}/messages?after=${after}&limit=${CATCH_UP_PAGE}`);
        page.messages.forEach((m) => showMessage(room, m));
        more = page.hasMore && page.messages.length > 0;
        if (more) after = page.messages[page.messages.length - 1].seq;
      }
    } catch (e) {
      // Removed while away (the personal channel's event may be lost): the list drops it.
      if (e instanceof ApiError && e.status === 404) removeChannel(room.channel.id);
      else showError(`could not catch up: ${e.message}`);
    }
  }

  // ---- channels and messages -----------------------------------------------------------

  /** Lists every channel, page by page; the ones no longer listed leave the page. */
  async function loadChannels() {
    const shown = [...state.channels.keys()];
    const listed = new Map();
    let cursor = null;
    do {
      const next = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await api('GET', `/channels?limit=${CHANNEL_PAGE}${next}`);
      page.channels.forEach((c) => listed.set(c.id, c));
      cursor = page.nextCursor;
    } while (cursor);
    listed.forEach((c) => addChannel(c, false));
    // Shown before the walk, not listed: gone, or moved ahead of the cursor by activity
    // during the walk. A 404 tells. (One added live meanwhile was not shown before.)
    for (const id of shown.filter((c) => !listed.has(c))) {
      await api('GET', channelPath(id)).catch((e) => {
        if (e instanceof ApiError && e.status === 404) removeChannel(id);
      });
    }
  }

  function addChannel(channel, newest) {
    state.channels.set(channel.id, channel);
    const list = $('channels');
    let li = [...list.children].find((el) => el.dataset.channelId === channel.id);
    if (!li) {
      li = document.createElement('li');
      li.dataset.channelId = channel.id;
      const button = document.createElement('button');
      button.type = 'button';
      button.addEventListener('click', () => openChannel(state.channels.get(channel.id)));
      li.append(button);
      if (newest) list.prepend(li);
      else list.append(li);
    }
    li.firstChild.textContent = channel.name || channel.id;
    if (state.room && state.room.channel.id === channel.id) {
      $('room-title').textContent = channel.name || channel.id;
    }
  }

  function removeChannel(id) {
    state.channels.delete(id);
    const li = [...$('channels').children].find((el) => el.dataset.channelId === id);
    if (li) li.remove();
    if (state.room && state.room.channel.id === id) closeRoom();
  }

  function closeRoom() {
    if (state.room && state.room.sub) {
      state.room.sub.unsubscribe();
      state.centrifuge.removeSubscription(state.room.sub);
    }
    state.room = null;
    $('room-open').dataset.live = 'false';
    $('room-open').hidden = true;
    $('room-empty').hidden = false;
  }

  async function openChannel(channel) {
    closeRoom();
    const room = { channel, sub: null, ids: new Set(), lastSeq: 0, loaded: false, subscribed: false };
    state.room = room;
    for (const li of $('channels').children) li.classList.toggle('active', li.dataset.channelId === channel.id);
    $('room-title').textContent = channel.name || channel.id;
    $('messages').replaceChildren();
    $('notice').hidden = true;
    $('room-empty').hidden = true;
    $('room-open').hidden = false;
    // Subscribe and load the history at once; messages are placed by seq and shown once
    // whichever way they arrive. Whichever of the two ends last catches up on what was sent
    // between the history's read and the subscription taking effect.
    subscribe(room);
    try {
      const page = await api('GET', `${channelPath(channel.id)}/messages?limit=${HISTORY_PAGE}`);
      page.messages.forEach((m) => showMessage(room, m));
      room.loaded = true;
      if (room.subscribed) catchUp(room);
    } catch (e) {
      showError(`could not load the messages: ${e.message}`);
    }
    $('message-text').focus();
  }

  const displayName = (user) => (user && (user.name || user.id)) || 'system';

  /** Shows a message in its place by seq, or updates it when already shown. */
  function showMessage(room, m) {
    if (state.room !== room) return;
    const list = $('messages');
    let li = room.ids.has(m.id) ? [...list.children].find((el) => el.dataset.id === m.id) : null;
    if (!li) {
      li = document.createElement('li');
      li.dataset.id = m.id;
      li.dataset.seq = String(m.seq);
      // When this page first showed it (the browser test measures delivery with it).
      li.dataset.shownAt = String(Date.now());
      const author = document.createElement('span');
      author.className = 'author';
      const text = document.createElement('span');
      text.className = 'text';
      li.append(author, text);
      const next = [...list.children].find((el) => Number(el.dataset.seq) > m.seq);
      list.insertBefore(li, next || null);
      room.ids.add(m.id);
      room.lastSeq = Math.max(room.lastSeq, m.seq);
      list.scrollTop = list.scrollHeight;
    }
    li.classList.toggle('mine', !!m.user && m.user.id === state.userId);
    li.querySelector('.author').textContent = displayName(m.user);
    li.querySelector('.text').textContent = m.deletedAt ? '(deleted)' : m.text;
  }

  function randomId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  }

  // ---- page --------------------------------------------------------------------------

  function renderStatus() {
    const el = $('status');
    const s = state.stats;
    el.dataset.state = state.connection;
    for (const [k, v] of Object.entries(s)) el.dataset[k] = String(v);
    el.textContent = `${state.connection} · tokens fetched ${s.tokenFetches} · wsToken refreshed ${s.wsTokenRefreshes}× · subscription tokens ${s.subTokenFetches}`;
  }

  let errorTimer = null;
  function showError(message) {
    const el = $('error');
    el.textContent = message;
    el.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => { el.hidden = true; }, 6000);
  }

  function notice(message) {
    $('notice').textContent = message;
    $('notice').hidden = false;
  }

  /** Runs a form's action with its button disabled; errors go to the error line. */
  function onSubmit(id, action) {
    const form = $(id);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const button = form.querySelector('button');
      button.disabled = true;
      try {
        await action();
      } catch (err) {
        showError(err.message);
      } finally {
        button.disabled = false;
      }
    });
  }

  async function signIn(userId) {
    state.userId = userId;
    await fetchTokens();
    sessionStorage.setItem('chatsdk-demo-user', userId);
    $('me').textContent = state.session.user.name || state.session.user.id;
    $('login').hidden = true;
    $('chat').hidden = false;
    $('sign-out').hidden = false;
    connect();
    await loadChannels();
  }

  onSubmit('login-form', () => signIn($('user-name').value.trim()));

  onSubmit('create-form', async () => {
    const input = $('channel-name');
    const channel = await api('POST', '/channels', { name: input.value.trim() });
    input.value = '';
    addChannel(channel, true);
    await openChannel(channel);
  });

  onSubmit('invite-form', async () => {
    const input = $('invite-user');
    const userId = input.value.trim();
    const { added } = await api('POST', `${channelPath(state.room.channel.id)}/members`, { userIds: [userId] });
    input.value = '';
    notice(added.length ? `invited ${userId}` : `${userId} is already a member`);
  });

  onSubmit('send-form', async () => {
    const input = $('message-text');
    const room = state.room;
    const text = input.value;
    if (!text.trim()) return;
    const message = await api('POST', `${channelPath(room.channel.id)}/messages`, { text, clientMsgId: randomId() });
    if (input.value === text) input.value = '';
    showMessage(room, message);
  });

  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem('chatsdk-demo-user');
    window.location.reload();
  });

  const saved = sessionStorage.getItem('chatsdk-demo-user');
  if (saved) signIn(saved).catch((e) => showError(e.message));
})();
