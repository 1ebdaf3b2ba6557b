// Groups: creating one (name, members from the contacts, a photo), and a group's page:
// members and roles, add / remove, rename, change the photo, leave.

import { get, post, put, del, upload } from './api.js';
import { state, refreshChat, ensureChat, me } from './state.js';
import { el, avatar, attempt, notify, panel } from './ui.js';
import { openChat } from './conversation.js';

async function contactPicker(exclude = new Set()) {
  const res = await get('/api/contacts').catch(() => ({ contacts: [] }));
  const boxes = res.contacts.filter((c) => !c.is_blocked && !exclude.has(c.id)).map((c) =>
    el('label.check', el('input', { type: 'checkbox', value: String(c.id), dataset: { userId: c.id } }), avatar(c.name, c.avatar_url), c.name));
  const node = el('fieldset.members', el('legend', 'Members'), boxes.length ? boxes : el('p.hint', 'Add people to your contacts first.'));
  return { node, chosen: () => [...node.querySelectorAll('input:checked')].map((i) => Number(i.value)) };
}

function groupForm(fields, photo) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') form.append(k, v);
  if (photo) form.append('avatar', photo);
  return form;
}

export async function openNewGroup() {
  const name = el('input#group-name', { placeholder: 'Group name', maxlength: 100, required: true });
  const description = el('input#group-description', { placeholder: 'Description (optional)', maxlength: 512 });
  const photo = el('input', { type: 'file', accept: 'image/*' });
  const picker = await contactPicker();
  const progress = el('progress', { max: 1, value: 0, hidden: true });
  const p = panel('New group', el('form.card#group-form', {
    onsubmit: async (e) => {
      e.preventDefault();
      const participants = picker.chosen();
      const file = photo.files[0];
      let res;
      if (file) {
        progress.hidden = false;
        res = await attempt(() => upload('POST', '/api/groups', groupForm({ name: name.value.trim(), description: description.value.trim(), participants: JSON.stringify(participants) }, file), (f) => { progress.value = f; }));
        progress.hidden = true;
      } else {
        const body = { name: name.value.trim(), participants };
        if (description.value.trim()) body.description = description.value.trim();
        res = await attempt(() => post('/api/groups', body));
      }
      if (!res) return;
      if (res.invited?.length) notify(`Invited (their privacy asks for consent): ${res.invited.map((u) => u.name).join(', ')}`);
      p.close();
      await ensureChat(res.group.id).catch(() => {});
      openChat(res.group.id);
    },
  }, name, description, el('label', 'Photo', photo), progress, picker.node, el('button#create-group', { type: 'submit' }, 'Create group')));
  name.focus();
}

export async function openGroupInfo(chatId) {
  const g = await attempt(() => get(`/api/groups/${chatId}`));
  if (!g) return;
  const admin = g.my_role === 'admin' && g.is_member;
  const reload = async () => { await refreshChat(chatId); p.close(); openGroupInfo(chatId); };
  const name = el('input#group-rename', { value: g.name, maxlength: 100 });
  const description = el('input', { value: g.description || '', maxlength: 512 });
  const photo = el('input#group-photo', { type: 'file', accept: 'image/*', disabled: !admin });
  const progress = el('progress', { max: 1, value: 0, hidden: true });
  photo.addEventListener('change', async () => {
    progress.hidden = false;
    const r = await attempt(() => upload('PUT', `/api/groups/${chatId}`, groupForm({}, photo.files[0]), (f) => { progress.value = f; }));
    progress.hidden = true;
    if (r) reload();
  });
  const members = el('ul.people', g.participants.map((m) => el('li.person', { dataset: { userId: m.id } },
    avatar(m.name, m.avatar_url),
    el('div.person-text', el('strong', m.id === me() ? `${m.name} (you)` : m.name), el('small', m.role)),
    admin && m.id !== me() ? el('div.person-actions',
      el('button.small.secondary', { type: 'button', onclick: async () => {
        if (await attempt(() => put(`/api/groups/${chatId}/members/${m.id}/role`, { role: m.role === 'admin' ? 'member' : 'admin' }))) reload();
      } }, m.role === 'admin' ? 'Make member' : 'Make admin'),
      el('button.small.danger', { type: 'button', onclick: async () => {
        if (await attempt(() => del(`/api/groups/${chatId}/members/${m.id}`))) reload();
      } }, 'Remove')) : null)));
  const picker = admin ? await contactPicker(new Set(g.participants.map((m) => m.id))) : null;
  const p = panel(g.name,
    el('div.card', avatar(g.name, g.avatar_url, 'big'), el('p.hint', `${g.participants_count} members · created by ${g.created_by?.name || ''}`),
      admin ? el('form', {
        onsubmit: async (e) => {
          e.preventDefault();
          const body = { name: name.value.trim(), description: description.value.trim() || null };
          if (await attempt(() => put(`/api/groups/${chatId}`, body))) { notify('Group saved'); reload(); }
        },
      }, el('label', 'Name', name), el('label', 'Description', description), el('label', 'Photo', photo), progress, el('button', { type: 'submit' }, 'Save'))
        : el('p', g.description || '')),
    el('div.card', el('h3', 'Members'), members),
    picker ? el('form.card', {
      onsubmit: async (e) => {
        e.preventDefault();
        const ids = picker.chosen();
        if (!ids.length) return;
        const r = await attempt(() => post(`/api/groups/${chatId}/members`, { user_ids: ids }));
        if (r) { if (r.invited?.length) notify(`Invited: ${r.invited.map((u) => u.name).join(', ')}`); reload(); }
      },
    }, picker.node, el('button', { type: 'submit' }, 'Add members')) : null,
    g.is_member ? el('div.card', el('button.danger', { type: 'button', onclick: async () => {
      if (await attempt(() => post(`/api/groups/${chatId}/leave`))) { p.close(); refreshChat(chatId); }
    } }, 'Leave group')) : el('p.hint', 'You are no longer a member of this group.'));
  state.members.set(chatId, g.participants.map((m) => m.id).filter((id) => id !== me()));
}
