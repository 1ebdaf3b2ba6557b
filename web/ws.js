// The /ws socket: one per tab. Answers are matched to frames by `ref`; events go to `on()`
// listeners. After any close but 4001 it reconnects with backoff, and after each `hello` it
// runs `sync` until `has_more` is false, resends unacknowledged messages with their
// `client_msg_id` and watches presence again (docs/protocol.md, "Reconnecting, in short").

import { api, auth, refresh } from './api.js';

const FRAME_TIMEOUT_MS = 15000;

export class Socket {
  constructor() {
    this.ws = null;
    this.handlers = new Map();
    this.waiting = new Map();
    this.nextRef = 1;
    this.backoff = 500;
    this.stopped = true;
    this.online = false;
    this.pending = new Map(); // client_msg_id -> send-message frame, until acked
    this.watched = new Set();
    this.helloSeen = false;
    this.cursor = 0;
    this.syncTimer = null;
  }

  /** `fn(data, frame)` for every server frame of `type` (`*`: all; `state`: connection). */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type).delete(fn);
  }

  emit(type, data, frame) {
    for (const fn of this.handlers.get(type) || []) {
      try { fn(data, frame); } catch (e) { console.error(type, e); }
    }
  }

  // The sync cursor lives with the page: the page keeps no history of its own, it loads the
  // chat list and histories over REST and reads the cursor just before (GET /api/sync/cursor).

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }

  connect() {
    if (this.stopped || !auth.token) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(auth.token)}`);
    this.ws = ws;
    this.helloSeen = false;
    ws.onmessage = (e) => this.receive(e.data);
    ws.onclose = (e) => this.closed(ws, e);
  }

  async closed(ws, e) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.setOnline(false);
    for (const [, w] of this.waiting) w.reject(Object.assign(new Error('connection lost'), { code: 'network' }));
    this.waiting.clear();
    if (this.stopped) return;
    if (e.code === 4001) {
      this.emit('signed-out', { reason: e.reason });
      return;
    }
    // Refused before `hello`: a browser sees no status, so ask the API whether we are still
    // signed in (an expired access token is refreshed on the way; a network error says
    // nothing and we simply try again later).
    if (!this.helloSeen) {
      try {
        if (expiresWithin(auth.token, 30)) await refresh();
        else await api('GET', '/api/user/profile');
      } catch (err) {
        if (err.status === 401 || err.status === 403) { this.emit('signed-out', { reason: err.message }); return; }
      }
    }
    const delay = this.backoff * (0.75 + Math.random() / 2);
    this.backoff = Math.min(this.backoff * 2, 15000);
    this.emit('state', { online: false, retryIn: Math.round(delay) });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  setOnline(online) {
    this.online = online;
    this.emit('state', { online });
  }

  receive(text) {
    let frame;
    try { frame = JSON.parse(text); } catch { return; }
    const { type } = frame;
    if (type === 'hello') { this.hello(frame); return; }
    if (['ack', 'error', 'pong', 'sync-result'].includes(type)) {
      if (type === 'ack' && frame.client_msg_id) { this.pending.delete(frame.client_msg_id); this.emit('sent', frame); }
      if (type === 'error' && frame.client_msg_id && frame.code !== 'unavailable') this.pending.delete(frame.client_msg_id);
      const w = frame.ref !== undefined && this.waiting.get(frame.ref);
      if (w) {
        this.waiting.delete(frame.ref);
        clearTimeout(w.timer);
        if (type === 'error') w.reject(Object.assign(new Error(frame.message), frame));
        else w.resolve(frame);
      } else if (type === 'error') {
        this.emit('frame-error', frame);
      }
      return;
    }
    this.emit(type, frame.data, frame);
    this.emit('*', frame.data, frame);
    // Changes that sync would return move the cursor only through sync: catch up now and
    // then, so a reconnect fetches little.
    if (frame.seq !== undefined && !this.syncTimer) {
      this.syncTimer = setTimeout(() => {
        this.syncTimer = null;
        if (this.online) this.syncAll().catch(() => {});
      }, 20000);
    }
  }

  async hello(frame) {
    this.helloSeen = true;
    this.backoff = 500;
    this.userId = frame.user_id;
    this.setOnline(true);
    this.emit('hello', frame);
    try {
      await this.syncAll();
      for (const f of this.pending.values()) this.send(f).catch(() => {});
      if (this.watched.size) this.watch([...this.watched]);
      this.emit('synced', {});
    } catch (e) { console.warn('sync', e); }
  }

  async syncAll() {
    for (;;) {
      const page = await this.request({ type: 'sync', since: this.cursor, limit: 500 });
      this.emit('sync-page', page);
      this.cursor = page.cursor;
      if (!page.has_more) break;
    }
  }

  /** Sends a frame and resolves with its answer (rejects with the error frame). */
  request(frame) {
    const ref = `r${this.nextRef++}`;
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(Object.assign(new Error('not connected'), { code: 'network' }));
        return;
      }
      const timer = setTimeout(() => {
        this.waiting.delete(ref);
        reject(Object.assign(new Error('no answer'), { code: 'timeout' }));
      }, FRAME_TIMEOUT_MS);
      this.waiting.set(ref, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...frame, ref }));
    });
  }

  /** Fire and forget (typing, read without ack, signals). */
  cast(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  /** A `send-message`, kept until acked and resent after a reconnect. */
  send(frame) {
    this.pending.set(frame.client_msg_id, frame);
    return this.request(frame);
  }

  watch(ids) {
    ids.forEach((id) => this.watched.add(id));
    if (!this.online || !ids.length) return Promise.resolve(null);
    return this.request({ type: 'presence-subscribe', user_ids: ids.slice(0, 100) })
      .then((ack) => { for (const p of ack.presence || []) this.emit('presence', p); return ack; })
      .catch(() => null);
  }
}

/** Whether a JWT's `exp` is less than `secs` away (or unreadable). */
function expiresWithin(token, secs) {
  try {
    const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return claims.exp * 1000 - Date.now() < secs * 1000;
  } catch { return true; }
}

export const socket = new Socket();
