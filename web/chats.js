// The chat list: last message, unread count, online state and typing, pinned chats first,
// then newest activity.

import { state, chatTitle, otherUser, typingIn, statusOf, onChange, me } from './state.js';
import { socket } from './ws.js';
import { $, el, avatar, time } from './ui.js';
import { openChat } from './conversation.js';

export function preview(m) {
  if (!m) return '';
  if (m.is_deleted) return 'This message was deleted';
  const who = m.sender_id === me() ? 'You: ' : '';
  switch (m.message_type) {
    case 'image': return who + '📷 ' + (m.content || 'Photo');
    case 'video': return who + '🎬 ' + (m.content || 'Video');
    case 'audio': return who + '🎵 Audio';
    case 'document': return who + '📄 ' + (m.file_name || m.content || 'Document');
    case 'location': return who + '📍 ' + (m.location_name || 'Location');
    case 'contact': return who + '👤 ' + (m.contact_data?.name || 'Contact');
    case 'system': return m.content || '';
    default: return who + (m.content || '');
  }
}

export const TICKS = { sent: '✓', delivered: '✓✓', read: '✓✓' };

function sorted() {
  return [...state.chats.values()].sort((a, b) => {
    const pa = a.settings?.is_pinned ? 1 : 0;
    const pb = b.settings?.is_pinned ? 1 : 0;
    if (pa !== pb) return pb - pa;
    const ta = a.last_message?.sent_at || a.updated_at || a.created_at;
    const tb = b.last_message?.sent_at || b.updated_at || b.created_at;
    return String(tb).localeCompare(String(ta));
  });
}

function item(chat) {
  const other = otherUser(chat);
  const presence = other && state.presence.get(other.id);
  const typing = typingIn(chat.id);
  const last = chat.last_message;
  const status = last && statusOf(last);
  const line = typing.length
    ? el('span.typing-inline', chat.type === 'group' ? `${typing.join(', ')} typing…` : 'typing…')
    : el('span.preview', status ? el('span.ticks.' + status, { dataset: { status } }, TICKS[status] + ' ') : null, preview(last));
  return el('li.chat-item', {
    dataset: { chatId: chat.id, type: chat.type },
    class: 'chat-item' + (state.openChat === chat.id ? ' active' : ''),
    tabindex: 0,
    onclick: () => openChat(chat.id),
    onkeydown: (e) => { if (e.key === 'Enter') openChat(chat.id); },
  },
  el('span.avatar-wrap', avatar(chatTitle(chat), chat.type === 'group' ? chat.avatar_url : other?.avatar_url),
    presence?.is_online ? el('span.dot', { title: 'online' }) : null),
  el('div.chat-text',
    el('div.chat-top', el('strong.chat-title', chatTitle(chat)), el('time', time(last?.sent_at || chat.updated_at))),
    el('div.chat-bottom', line,
      chat.settings?.is_muted ? el('span.muted', { title: 'muted' }, '🔕') : null,
      chat.unread_count > 0 ? el('span.badge', { title: 'unread' }, String(chat.unread_count)) : null)));
}

export function renderChatList() {
  const list = $('#chat-list');
  const chats = sorted();
  list.replaceChildren(...chats.map(item));
  if (!chats.length) list.append(el('li.hint', 'No chats yet. Open Contacts (☎) to add someone and message them.'));
  const ids = chats.map(otherUser).filter(Boolean).map((u) => u.id).filter((id) => !socket.watched.has(id));
  if (ids.length) socket.watch(ids);
}

export function initChatList() {
  onChange((kind) => { if (kind === 'typing' || kind === 'presence' || kind === 'messages') renderChatList(); });
  setInterval(() => { if (state.typing.size) renderChatList(); }, 4000);
}
