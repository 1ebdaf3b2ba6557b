// People: contacts (add by number, message, block / unblock, remove), someone's profile,
// my profile (name, about, photo), privacy settings, sign-out, and pending group invites.

import { auth, get, post, put, del, upload } from './api.js';
import { state, ensureChat, loadChats } from './state.js';
import { socket } from './ws.js';
import { $, el, avatar, lastSeen, attempt, notify, panel, dialog } from './ui.js';
import { openChat } from './conversation.js';
import { renderMe, signOut } from './app.js';

export async function messageUser(userId) {
  const chat = await attempt(() => post('/api/chats/private', { contact_id: userId }));
  if (!chat) return;
  state.chats.delete(chat.id);
  await ensureChat(chat.id);
  openChat(chat.id);
}

export async function openContacts() {
  const list = el('ul.people#contacts');
  const phone = el('input#contact-phone', { type: 'tel', placeholder: '+14155550123', required: true });
  const name = el('input#contact-name', { placeholder: 'Name', required: true, maxlength: 255 });
  const form = el('form.card#add-contact', {
    onsubmit: async (e) => {
      e.preventDefault();
      const res = await attempt(() => post('/api/contacts', { phone_number: phone.value.trim(), contact_name: name.value.trim() }));
      if (res) { phone.value = ''; name.value = ''; notify(`${res.contact.name} is in your contacts`); load(); }
    },
  }, el('h3', 'Add a contact'), phone, name, el('button', { type: 'submit' }, 'Add'));
  const p = panel('Contacts', form, list);
  async function load() {
    const res = await attempt(() => get('/api/contacts'));
    if (!res) return;
    list.replaceChildren(...res.contacts.map((c) => el('li.person', { dataset: { userId: c.id } },
      avatar(c.name, c.avatar_url),
      el('div.person-text', el('strong', c.name), el('small', c.is_blocked ? 'blocked' : lastSeen(c) || c.about || c.phone_number || '')),
      el('div.person-actions',
        el('button.small', { type: 'button', onclick: () => { p.close(); messageUser(c.id); } }, 'Message'),
        el('button.small.secondary', { type: 'button', onclick: async () => {
          const r = await attempt(() => put(`/api/contacts/${c.id}/block`));
          if (r) { notify(r.is_blocked ? `${c.name} is blocked` : `${c.name} is unblocked`); load(); }
        } }, c.is_blocked ? 'Unblock' : 'Block'),
        el('button.small.secondary', { type: 'button', title: 'Remove from contacts', onclick: async () => {
          if (await attempt(() => del(`/api/contacts/${c.id}`))) load();
        } }, 'Remove')))));
    if (!res.contacts.length) list.append(el('li.hint', 'No contacts yet.'));
  }
  load();
}

export async function openUser(id) {
  const u = await attempt(() => get(`/api/users/${id}`));
  if (!u) return;
  const presence = state.presence.get(id) || u;
  dialog(u.name, el('div.profile',
    avatar(u.name, u.avatar_url, 'big'),
    u.about ? el('p', u.about) : null,
    el('p.hint', lastSeen(presence) || 'last seen hidden'),
    el('button.secondary', { type: 'button', onclick: async () => {
      const r = await attempt(() => put(`/api/contacts/${id}/block`));
      if (r) notify(r.is_blocked ? `${u.name} is blocked` : `${u.name} is unblocked`);
    } }, 'Block / unblock')));
}

const PRIVACY = { last_seen: 'Last seen and online', profile_photo: 'Profile photo', about: 'About', groups: 'Who can add me to groups' };

export async function openProfile() {
  const me = await attempt(() => get('/api/user/profile'));
  if (!me) return;
  auth.setUser(me);
  const name = el('input#profile-name', { value: me.name || '', maxlength: 255 });
  const about = el('input#profile-about', { value: me.about || '', maxlength: 700 });
  const photo = el('input#profile-photo', { type: 'file', accept: 'image/*' });
  const progress = el('progress', { max: 1, value: 0, hidden: true });
  const pic = el('div.profile-pic', avatar(me.name, me.avatar_url, 'big'));
  photo.addEventListener('change', async () => {
    const form = new FormData();
    form.append('avatar', photo.files[0]);
    progress.hidden = false;
    const r = await attempt(() => upload('POST', '/api/user/avatar', form, (f) => { progress.value = f; }));
    progress.hidden = true;
    if (r) { auth.setUser({ avatar_url: r.avatar_url }); pic.replaceChildren(avatar(me.name, r.avatar_url, 'big')); renderMe(); }
  });
  const selects = Object.entries(PRIVACY).map(([key, label]) => {
    const s = el('select', { name: key, dataset: { privacy: key } }, ['everyone', 'contacts', 'nobody'].map((v) => el('option', { value: v }, v)));
    s.value = me.privacy_settings?.[key] || 'everyone';
    s.addEventListener('change', async () => {
      const r = await attempt(() => put('/api/user/privacy', { [key]: s.value }));
      if (r) notify('Privacy saved');
    });
    return el('label', label, s);
  });
  panel('Profile',
    el('form.card', {
      onsubmit: async (e) => {
        e.preventDefault();
        const r = await attempt(() => put('/api/user/profile', { name: name.value.trim(), about: about.value }));
        if (r) { auth.setUser(r.user); renderMe(); notify('Profile saved'); }
      },
    }, pic, el('label', 'Photo', photo), progress, el('label', 'Name', name), el('label', 'About', about), el('button', { type: 'submit' }, 'Save'),
    el('p.hint', me.phone_number)),
    el('div.card', el('h3', 'Privacy'), selects),
    el('div.card', el('button.danger', { type: 'button', onclick: () => signOut(true) }, 'Sign out')));
}

/** Pending group invites, above the chat list. */
export async function refreshInvites() {
  const res = await get('/api/groups/invites').catch(() => null);
  const box = $('#invites');
  if (!res) return;
  box.replaceChildren(...res.invites.map((inv) => el('div.invite', { dataset: { inviteId: inv.id } },
    el('span', el('strong', inv.invited_by.name), ' invites you to ', el('strong', inv.group.name)),
    el('button.small', { type: 'button', onclick: async () => {
      if (await attempt(() => post(`/api/groups/invites/${inv.id}/accept`))) { await loadChats(); refreshInvites(); }
    } }, 'Join'),
    el('button.small.secondary', { type: 'button', onclick: async () => {
      if (await attempt(() => post(`/api/groups/invites/${inv.id}/decline`))) refreshInvites();
    } }, 'Decline'))));
}

socket.on('synced', () => refreshInvites());
