// What the client knows: chats, each chat's messages (upserted by id, newer `seq` wins),
// receipt cursors per member, typing and presence. Socket events and sync pages are applied
// here; views listen to `changed(kind, chatId)`.

import { auth, get } from './api.js';
import { socket } from './ws.js';

export const state = {
  chats: new Map(),      // id -> chat as GET /api/chats gives it
  messages: new Map(),   // chat id -> Map(message id -> message)
  cursors: new Map(),    // chat id -> Map(user id -> {delivered, read})
  members: new Map(),    // chat id -> [user ids] of the other current members (groups, when loaded)
  typing: new Map(),     // chat id -> Map(user id -> {name, until})
  presence: new Map(),   // user id -> {is_online, last_seen_at}
  openChat: null,
  hasMore: new Map(),    // chat id -> next_before_message_id or null
};

const listeners = new Set();
export function onChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }
export function changed(kind, chatId = null) { for (const fn of listeners) fn(kind, chatId); }

export const me = () => auth.userId;

export function chatTitle(chat) {
  if (!chat) return '';
  return chat.type === 'group' ? chat.name : chat.participant?.name || 'Unknown';
}

export function otherUser(chat) { return chat?.type === 'private' ? chat.participant : null; }

function messagesOf(chatId) {
  if (!state.messages.has(chatId)) state.messages.set(chatId, new Map());
  return state.messages.get(chatId);
}

/** Inserts or replaces a message unless we hold a newer copy. */
export function upsert(m) {
  const map = messagesOf(m.chat_id);
  const old = map.get(m.id);
  if (old && old.seq > m.seq) return old;
  // ack/new-message copies carry no receipt state: keep what we know.
  const merged = old ? { ...old, ...m, status: best(old.status, m.status) } : m;
  map.set(m.id, merged);
  const chat = state.chats.get(m.chat_id);
  if (chat && (!chat.last_message || chat.last_message.id <= m.id)) {
    chat.last_message = merged;
    chat.updated_at = m.sent_at;
  }
  return merged;
}

const RANK = { sent: 0, delivered: 1, read: 2 };
function best(a, b) { return (RANK[a] ?? 0) >= (RANK[b] ?? 0) ? a : b; }

export function sortedMessages(chatId) {
  return [...messagesOf(chatId).values()].sort((a, b) => a.id - b.id);
}

/** The status of one of my messages, from what the server said and the cursors we saw. */
export function statusOf(m) {
  if (m.sender_id !== me() || m.message_type === 'system') return null;
  const chat = state.chats.get(m.chat_id);
  const cursors = state.cursors.get(m.chat_id);
  let derived = 'sent';
  const others = chat?.type === 'private' ? [chat.participant?.id] : state.members.get(m.chat_id);
  if (cursors && others && others.length) {
    const all = (k) => others.every((u) => (cursors.get(u)?.[k] ?? 0) >= m.id);
    derived = all('read') ? 'read' : all('delivered') ? 'delivered' : 'sent';
  }
  return best(m.status || 'sent', derived);
}

function moveCursor(chatId, userId, kind, upTo) {
  if (!state.cursors.has(chatId)) state.cursors.set(chatId, new Map());
  const c = state.cursors.get(chatId);
  const cur = c.get(userId) || { delivered: 0, read: 0 };
  cur[kind] = Math.max(cur[kind], upTo);
  if (kind === 'read') cur.delivered = Math.max(cur.delivered, upTo);
  c.set(userId, cur);
  if (userId === me() && kind === 'read') {
    const chat = state.chats.get(chatId);
    if (chat) {
      const unread = sortedMessages(chatId).filter((m) => m.id > upTo && m.sender_id !== me() && m.message_type !== 'system').length;
      chat.unread_count = Math.min(chat.unread_count || 0, unread);
    }
  }
}

export async function loadChats() {
  const all = [];
  for (let page = 1; page <= 10; page++) {
    const res = await get(`/api/chats?page=${page}&limit=100`);
    all.push(...res.chats);
    if (page >= res.pagination.total_pages) break;
  }
  state.chats.clear();
  for (const c of all) {
    state.chats.set(c.id, c);
    if (c.last_message) upsert(c.last_message);
  }
  changed('chats');
}

const fetching = new Map();
/** Fetches a chat we do not know yet (a first message, a new group). */
export function ensureChat(id) {
  if (state.chats.has(id)) return Promise.resolve(state.chats.get(id));
  if (!fetching.has(id)) {
    fetching.set(id, get(`/api/chats/${id}`).then((c) => {
      const known = state.chats.get(id);
      state.chats.set(id, { ...c, unread_count: Math.max(c.unread_count || 0, known?.unread_count || 0) });
      for (const m of messagesOf(id).values()) upsert(m);
      changed('chats');
      return c;
    }).finally(() => fetching.delete(id)));
  }
  return fetching.get(id);
}

export async function refreshChat(id) {
  try {
    const c = await get(`/api/chats/${id}`);
    const old = state.chats.get(id) || {};
    state.chats.set(id, { ...old, ...c });
    if (c.type === 'group') await loadMembers(id);
    changed('chats');
    changed('chat', id);
  } catch (e) {
    if (e.status === 404) { state.chats.delete(id); changed('chats'); }
  }
}

export async function loadMembers(chatId) {
  const g = await get(`/api/groups/${chatId}`);
  state.members.set(chatId, g.participants.map((p) => p.id).filter((id) => id !== me()));
  return g;
}

// `delivered` goes out batched: the newest id of each chat, once per short while, so a burst
// of messages costs one frame (the server allows a few dozen a minute).
const toConfirm = new Map();
let confirmTimer = null;
function confirmDelivery(chatId, messageId) {
  toConfirm.set(chatId, Math.max(toConfirm.get(chatId) || 0, messageId));
  confirmTimer ??= setTimeout(() => {
    confirmTimer = null;
    const ids = [...toConfirm.values()];
    toConfirm.clear();
    if (ids.length) socket.cast({ type: 'delivered', message_ids: ids.slice(0, 1000) });
  }, 300);
}

function received(m) {
  const mine = m.sender_id === me();
  const chat = state.chats.get(m.chat_id);
  if (!mine && m.message_type !== 'system' && chat && state.openChat !== m.chat_id) chat.unread_count = (chat.unread_count || 0) + 1;
}

function setTyping(chatId, user, on) {
  if (!state.typing.has(chatId)) state.typing.set(chatId, new Map());
  const t = state.typing.get(chatId);
  if (on) t.set(user.id, { name: user.name, until: Date.now() + 8000 });
  else t.delete(user.id);
  changed('typing', chatId);
}

export function typingIn(chatId) {
  const t = state.typing.get(chatId);
  if (!t) return [];
  const now = Date.now();
  for (const [id, v] of t) if (v.until < now) t.delete(id);
  return [...t.values()].map((v) => v.name);
}

/** Wires socket events into the state. */
export function listen() {
  socket.on('new-message', async ({ chat_id, message }) => {
    const known = state.chats.has(chat_id);
    upsert(message);
    received(message);
    if (!known) await ensureChat(chat_id).catch(() => {});
    if (message.sender_id !== me()) confirmDelivery(chat_id, message.id);
    if (message.message_type === 'system') refreshChat(chat_id);
    changed('messages', chat_id);
    changed('chats');
    const typist = state.typing.get(chat_id);
    if (typist?.delete(message.sender_id)) changed('typing', chat_id);
  });
  socket.on('message-status-updated', (d) => {
    const who = d.read_by || d.delivered_to;
    moveCursor(d.chat_id, who.id, d.status, d.up_to_message_id);
    changed('messages', d.chat_id);
    changed('chats');
  });
  socket.on('message-updated', (d, f) => {
    const m = messagesOf(d.chat_id).get(d.message_id);
    if (m) Object.assign(m, { content: d.content, edited_at: d.edited_at, seq: f.seq });
    changed('messages', d.chat_id);
    changed('chats');
  });
  socket.on('message-deleted', (d, f) => {
    const map = messagesOf(d.chat_id);
    if (!d.for_everyone) map.delete(d.message_id);
    else if (map.has(d.message_id)) {
      Object.assign(map.get(d.message_id), { is_deleted: true, deleted_at: d.deleted_at, content: null, media_url: undefined, thumbnail_url: undefined, reactions: [], seq: f.seq });
    }
    changed('messages', d.chat_id);
    changed('chats');
  });
  socket.on('reaction-updated', (d, f) => {
    const m = messagesOf(d.chat_id).get(d.message_id);
    if (!m) return;
    let r = (m.reactions ||= []).find((x) => x.emoji === d.emoji);
    if (!r) { r = { emoji: d.emoji, count: 0, users: [] }; m.reactions.push(r); }
    r.count = d.count;
    r.users = (r.users || []).filter((u) => u.id !== d.user.id);
    if (d.action === 'added') r.users.push(d.user);
    m.reactions = m.reactions.filter((x) => x.count > 0);
    m.seq = f.seq;
    changed('messages', d.chat_id);
  });
  for (const type of ['member-added', 'member-removed', 'chat-updated', 'role-changed']) {
    socket.on(type, (d) => {
      if (type === 'member-removed') setTyping(d.chat_id, { id: d.user_id }, false);
      refreshChat(d.chat_id);
    });
  }
  socket.on('chat-deleted', ({ chat_id }) => { state.chats.delete(chat_id); changed('chats'); changed('chat', chat_id); });
  socket.on('chat-settings-updated', ({ chat_id, settings }) => {
    const c = state.chats.get(chat_id);
    if (c) { c.settings = settings; changed('chats'); }
  });
  socket.on('user-typing', ({ chat_id, user, is_typing }) => setTyping(chat_id, user, is_typing));
  socket.on('user-status-updated', (d) => {
    state.presence.set(d.contact_id, { is_online: d.is_online, last_seen_at: d.last_seen_at });
    changed('presence', d.contact_id);
  });
  socket.on('presence', (p) => {
    state.presence.set(p.user_id, { is_online: p.is_online, last_seen_at: p.last_seen_at });
    changed('presence', p.user_id);
  });
  socket.on('hello', () => { state.typing.clear(); changed('typing'); });
  // Unread counts and last messages after a catch-up come from the chat list itself.
  socket.on('synced', () => loadChats().catch(() => {}));
  socket.on('sync-page', (page) => {
    const chats = new Set();
    for (const m of page.messages) {
      upsert(m);
      chats.add(m.chat_id);
      if (m.message_type === 'system') refreshChat(m.chat_id);
    }
    for (const r of page.receipts) { moveCursor(r.chat_id, r.user_id, r.status, r.up_to_message_id); chats.add(r.chat_id); }
    for (const h of page.hidden) {
      for (const [chatId, map] of state.messages) if (map.delete(h.message_id)) chats.add(chatId);
    }
    for (const m of page.messages) if (m.sender_id !== me()) confirmDelivery(m.chat_id, m.id);
    for (const id of chats) { if (!state.chats.has(id)) ensureChat(id).catch(() => {}); changed('messages', id); }
    changed('chats');
  });
}
