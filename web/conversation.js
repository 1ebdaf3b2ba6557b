// An open chat: history paged back with `before_message_id`, sending text over the socket
// (kept until acknowledged), media over REST with upload progress, replies, reactions, edits,
// deletions, typing, read receipts and the other side's presence.

import { get, put, del, post, upload } from './api.js';
import { socket } from './ws.js';
import { state, chatTitle, otherUser, sortedMessages, upsert, statusOf, typingIn, onChange, changed, me, loadMembers } from './state.js';
import { $, el, avatar, time, lastSeen, attempt, fail, uuid, bytes, dialog } from './ui.js';
import { TICKS } from './chats.js';
import { startCall } from './call.js';
import { openGroupInfo } from './groups.js';
import { openUser } from './people.js';

const EMOJI = '😀 😂 😊 😍 😘 😎 🤔 😢 😭 😡 👍 👎 👏 🙏 💪 🎉 ❤️ 🔥 ✨ ⭐ 🌹 ☕ 🍕 🎂 ⚽ 🚗 ✈️ 🏠 📷 🎵 💡 ✅ ❌ ❓ 👋 🙌 🤝 😴 🤗 🙈'.split(' ');
const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
const outbox = new Map(); // client_msg_id -> pending message, until acked
let replyTo = null;
let typingSince = 0;
let typingTimer = null;

export async function openChat(id) {
  if (state.openChat && state.openChat !== id) stopTyping();
  state.openChat = id;
  replyTo = null;
  renderReply();
  $('#app').classList.add('chat-open');
  $('#conversation').hidden = false;
  $('#empty').hidden = true;
  $('#message-list').replaceChildren();
  renderHead();
  changed('chats');
  const chat = state.chats.get(id);
  const other = otherUser(chat);
  if (other) socket.watch([other.id]);
  if (chat?.type === 'group') loadMembers(id).then(() => renderAll()).catch(() => {});
  if (!state.hasMore.has(id)) await loadPage(id, null);
  renderAll();
  scrollDown();
  markRead();
  $('#text').focus();
}

export function closeChat() {
  stopTyping();
  state.openChat = null;
  $('#app').classList.remove('chat-open');
  $('#conversation').hidden = true;
  $('#empty').hidden = false;
  changed('chats');
}

async function loadPage(chatId, before) {
  const q = before ? `&before_message_id=${before}` : '';
  const res = await attempt(() => get(`/api/chats/${chatId}/messages?limit=30${q}`));
  if (!res) return;
  for (const m of res.messages) upsert(m);
  state.hasMore.set(chatId, res.pagination.has_more ? res.pagination.next_before_message_id : null);
}

function renderHead() {
  const chat = state.chats.get(state.openChat);
  if (!chat) return;
  const other = otherUser(chat);
  const typing = typingIn(chat.id);
  let sub;
  if (typing.length) sub = el('span.typing-inline', chat.type === 'group' ? `${typing.join(', ')} typing…` : 'typing…');
  else if (other) sub = el('span.presence', lastSeen(state.presence.get(other.id)) || ' ');
  else sub = el('span.presence', `${chat.participants_count ?? ''} members`);
  $('#chat-head').replaceChildren(
    avatar(chatTitle(chat), chat.type === 'group' ? chat.avatar_url : other?.avatar_url),
    el('span.head-text', el('strong#chat-title', chatTitle(chat)), sub));
  $('#typing').textContent = typing.length ? (chat.type === 'group' ? `${typing.join(', ')} typing…` : `${chatTitle(chat)} is typing…`) : '';
  const member = chat.type !== 'group' || chat.is_member !== false;
  $('#composer').hidden = !member;
  $('#earlier').hidden = !state.hasMore.get(chat.id);
}

function body(m) {
  if (m.is_deleted) return el('em.deleted', 'This message was deleted');
  switch (m.message_type) {
    case 'image':
      return el('figure', el('a', { href: m.media_url, target: '_blank', rel: 'noopener' },
        el('img.photo', { src: m.thumbnail_url || m.media_url, alt: m.content || 'photo', loading: 'lazy' })),
      m.content ? el('figcaption', m.content) : null);
    case 'video': return el('figure', el('video', { src: m.media_url, controls: true, preload: 'metadata' }), m.content ? el('figcaption', m.content) : null);
    case 'audio': return el('audio', { src: m.media_url, controls: true, preload: 'metadata' });
    case 'document':
      return el('a.document', { href: m.media_url, download: m.file_name || 'file' }, '📄 ', m.file_name || 'document', ` · ${bytes(m.media_size || 0)}`);
    case 'location':
      return el('span', '📍 ', m.location_name || `${m.latitude}, ${m.longitude}`, m.content ? ` — ${m.content}` : '');
    case 'contact': return el('span', '👤 ', m.contact_data?.name || '', ' ', m.contact_data?.phone_number || '');
    default: return el('span.text', m.content || '');
  }
}

function messageNode(m) {
  const chat = state.chats.get(m.chat_id);
  if (m.message_type === 'system') return el('li.system', { dataset: { id: m.id } }, m.content || '');
  const mine = m.sender_id === me();
  const status = statusOf(m);
  const quote = m.reply_to ? el('blockquote.quote', { onclick: () => jump(m.reply_to.id) },
    m.reply_to.is_deleted ? 'deleted message' : (m.reply_to.content || m.reply_to.message_type)) : null;
  return el('li.msg' + (mine ? '.mine' : '.theirs') + (m.pending ? '.pending' : ''), { dataset: { id: m.id || '', status: status || '' } },
    el('div.bubble', { onclick: (e) => { if (!m.pending && !e.target.closest('a,video,audio')) actions(m); } },
      chat?.type === 'group' && !mine ? el('strong.sender', m.sender?.name || '') : null,
      quote,
      body(m),
      m.reactions?.length ? el('div.reactions', m.reactions.map((r) => el('span.reaction', { title: (r.users || []).map((u) => u.name).join(', ') }, `${r.emoji} ${r.count}`))) : null,
      el('div.meta', m.edited_at && !m.is_deleted ? el('span.edited', 'edited') : null, el('time', time(m.sent_at)),
        mine ? el('span.ticks.' + (m.pending ? 'pending' : status), { dataset: { status: m.pending ? 'pending' : status }, title: m.pending ? 'sending' : status }, m.pending ? '🕓' : TICKS[status]) : null)));
}

function renderAll() {
  const id = state.openChat;
  if (!id) return;
  const list = $('#message-list');
  const atBottom = nearBottom();
  const items = sortedMessages(id).map(messageNode);
  for (const p of outbox.values()) if (p.chat_id === id) items.push(messageNode(p));
  list.replaceChildren(...items);
  renderHead();
  if (atBottom) scrollDown();
}

function nearBottom() {
  const box = $('#messages');
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}
function scrollDown() { const box = $('#messages'); box.scrollTop = box.scrollHeight; }
function jump(id) { document.querySelector(`#message-list [data-id="${id}"]`)?.scrollIntoView({ block: 'center' }); }

/** Tells the server we have read up to the newest message of the open chat. */
function markRead() {
  const id = state.openChat;
  if (!id || document.hidden) return;
  const theirs = sortedMessages(id).filter((m) => m.sender_id !== me());
  const last = theirs[theirs.length - 1];
  const chat = state.chats.get(id);
  if (chat) chat.unread_count = 0;
  if (last && chat && last.id > (chat.readUpTo || 0)) {
    chat.readUpTo = last.id;
    // One frame for a burst of messages: the newest id a moment later.
    clearTimeout(readTimers.get(id));
    readTimers.set(id, setTimeout(() => {
      readTimers.delete(id);
      socket.cast({ type: 'read', chat_id: id, message_id: chat.readUpTo });
    }, 250));
  }
  changed('chats');
}
const readTimers = new Map();

function renderReply() {
  const box = $('#reply-box');
  box.hidden = !replyTo;
  if (!replyTo) { box.replaceChildren(); return; }
  box.replaceChildren(el('span', 'Replying to ', el('strong', replyTo.sender?.name || ''), ': ', replyTo.content || replyTo.message_type),
    el('button.icon', { type: 'button', title: 'Cancel reply', onclick: () => { replyTo = null; renderReply(); } }, '✕'));
}

function actions(m) {
  const mine = m.sender_id === me();
  const buttons = [];
  let d;
  const act = (label, fn, cls = '') => el('button' + (cls ? '.' + cls : ''), { type: 'button', onclick: async () => { d.close(); await attempt(fn); } }, label);
  if (!m.is_deleted) {
    buttons.push(el('div.react-row', REACTIONS.map((e) => {
      const had = (m.reactions || []).some((r) => r.emoji === e && (r.users || []).some((u) => u.id === me()));
      return act(e, () => had ? del(`/api/messages/${m.id}/reactions`, { emoji: e }) : post(`/api/messages/${m.id}/reactions`, { emoji: e }), had ? 'chosen' : '');
    })));
    buttons.push(act('Reply', () => { replyTo = m; renderReply(); $('#text').focus(); }));
  }
  if (mine && m.message_type === 'text' && !m.is_deleted) buttons.push(act('Edit', () => edit(m)));
  if (mine && !m.is_deleted) buttons.push(act('Info', () => info(m)));
  buttons.push(act('Delete for me', () => del(`/api/messages/${m.id}?for=me`)));
  if (mine && !m.is_deleted) buttons.push(act('Delete for everyone', () => del(`/api/messages/${m.id}`), 'danger'));
  d = dialog('Message', el('div.actions', buttons));
}

function edit(m) {
  const input = el('textarea#edit-text', { rows: 3, maxlength: 4096 });
  input.value = m.content || '';
  const d = dialog('Edit message', input, {
    actions: [el('button', { type: 'button', onclick: async () => {
      const res = await attempt(() => put(`/api/messages/${m.id}`, { content: input.value }));
      if (res) { upsert(res.message); d.close(); renderAll(); }
    } }, 'Save')],
  });
  input.focus();
}

async function info(m) {
  const res = await get(`/api/messages/${m.id}/info`);
  dialog('Message info', el('ul.plain', res.recipients.map((r) => el('li', el('strong', r.user.name), ' — delivered ', time(r.delivered_at) || '—', ', read ', time(r.read_at) || '—'))));
}

async function sendText() {
  const input = $('#text');
  const content = input.value.trim();
  const chatId = state.openChat;
  if (!content || !chatId) return;
  input.value = '';
  stopTyping();
  const frame = { type: 'send-message', chat_id: chatId, client_msg_id: uuid(), content };
  if (replyTo) frame.reply_to_message_id = replyTo.id;
  const pending = { pending: true, id: 0, chat_id: chatId, sender_id: me(), message_type: 'text', content, sent_at: new Date().toISOString(), reply_to: replyTo && { id: replyTo.id, content: replyTo.content, message_type: replyTo.message_type }, client_msg_id: frame.client_msg_id };
  outbox.set(frame.client_msg_id, pending);
  replyTo = null;
  renderReply();
  renderAll();
  scrollDown();
  try {
    const ack = await socket.send(frame);
    outbox.delete(frame.client_msg_id);
    upsert(ack.message);
  } catch (err) {
    // Not connected, or no answer yet: the socket resends it with the same id after reconnecting.
    if (err.code === 'network' || err.code === 'timeout' || err.code === 'unavailable') return;
    outbox.delete(frame.client_msg_id);
    fail(err);
  }
  renderAll();
  changed('chats');
}

async function sendFile(file) {
  const chatId = state.openChat;
  if (!file || !chatId) return;
  const kind = file.type.startsWith('image/') ? 'image' : file.type.startsWith('video/') ? 'video' : file.type.startsWith('audio/') ? 'audio' : 'document';
  const form = new FormData();
  form.append('message_type', kind);
  form.append('client_msg_id', uuid());
  const caption = $('#text').value.trim();
  if (caption) { form.append('caption', caption); $('#text').value = ''; }
  if (replyTo) { form.append('reply_to_message_id', String(replyTo.id)); replyTo = null; renderReply(); }
  form.append('file', file, file.name);
  const bar = $('#upload');
  bar.hidden = false;
  $('#upload-label').textContent = ` Sending ${file.name}…`;
  $('#upload-progress').value = 0;
  try {
    const res = await upload('POST', `/api/chats/${chatId}/messages`, form, (f) => { $('#upload-progress').value = f; });
    upsert(res.message);
    renderAll();
    scrollDown();
    changed('chats');
  } catch (err) { fail(err); } finally { bar.hidden = true; }
}

function typed() {
  const now = Date.now();
  if (now - typingSince > 3000) {
    typingSince = now;
    socket.cast({ type: 'typing', chat_id: state.openChat, is_typing: true });
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, 4000);
}

function stopTyping() {
  clearTimeout(typingTimer);
  if (typingSince && state.openChat) socket.cast({ type: 'typing', chat_id: state.openChat, is_typing: false });
  typingSince = 0;
}

export function initConversation() {
  $('#composer').addEventListener('submit', (e) => { e.preventDefault(); sendText(); });
  $('#text').addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); sendText(); } });
  $('#text').addEventListener('input', typed);
  $('#file').addEventListener('change', (e) => { sendFile(e.target.files[0]); e.target.value = ''; });
  $('#back').addEventListener('click', closeChat);
  $('#earlier').addEventListener('click', async () => {
    const id = state.openChat;
    const box = $('#messages');
    const before = box.scrollHeight;
    await loadPage(id, state.hasMore.get(id));
    renderAll();
    box.scrollTop = box.scrollHeight - before;
  });
  const picker = $('#emoji-picker');
  picker.append(...EMOJI.map((e) => el('button', { type: 'button', onclick: () => { $('#text').value += e; $('#text').focus(); picker.hidden = true; } }, e)));
  $('#emoji').addEventListener('click', () => { picker.hidden = !picker.hidden; });
  $('#call-audio').addEventListener('click', () => startCall(state.openChat, 'audio'));
  $('#call-video').addEventListener('click', () => startCall(state.openChat, 'video'));
  $('#chat-head').addEventListener('click', () => {
    const chat = state.chats.get(state.openChat);
    if (chat?.type === 'group') openGroupInfo(chat.id);
    else if (chat) openUser(chat.participant.id);
  });
  document.addEventListener('visibilitychange', markRead);
  socket.on('synced', () => { for (const [id, p] of outbox) if (!socket.pending.has(id)) outbox.delete(id); renderAll(); });
  socket.on('sent', (f) => {
    if (!outbox.delete(f.client_msg_id)) return;
    upsert(f.message);
    changed('messages', f.message.chat_id);
    changed('chats');
  });
  socket.on('*', (_, f) => { if (f.type === 'new-message' && f.data.message.client_msg_id) outbox.delete(f.data.message.client_msg_id); });
  onChange((kind, chatId) => {
    if (!state.openChat) return;
    if (kind === 'chat' && chatId === state.openChat && !state.chats.has(chatId)) { closeChat(); fail(new Error('This chat is no longer available')); return; }
    if ((kind === 'messages' || kind === 'chat') && chatId === state.openChat) { renderAll(); markRead(); }
    if (kind === 'typing' || kind === 'presence') renderHead();
  });
  setInterval(() => { if (state.openChat && state.typing.size) renderHead(); }, 3000);
}
