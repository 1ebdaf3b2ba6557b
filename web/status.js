// Statuses: post a text (with a background colour) or a photo, see the contacts' statuses
// (each view is counted once) and who viewed mine.

import { get, post, del, upload } from './api.js';
import { el, avatar, time, attempt, notify, panel, dialog } from './ui.js';

const COLORS = ['#075e54', '#128c7e', '#6a1b9a', '#c62828', '#ef6c00', '#283593'];

function statusBody(s) {
  if (s.content_type === 'text') return el('div.status-text', { style: { background: /^#[0-9a-f]{6}$/i.test(s.background_color || '') ? s.background_color : COLORS[0] } }, s.content || '');
  if (s.content_type === 'video') return el('video', { src: s.media_url, controls: true, autoplay: true });
  return el('figure', el('img.status-photo', { src: s.media_url, alt: s.content || 'status' }), s.content ? el('figcaption', s.content) : null);
}

async function show(person, reload) {
  let i = 0;
  const box = el('div.status-view');
  const d = dialog(person.user.name, box);
  const step = async () => {
    const s = person.statuses[i];
    if (!s) { d.close(); reload(); return; }
    const views = person.is_mine ? el('button.small.secondary', { type: 'button', onclick: async () => {
      const v = await attempt(() => get(`/api/status/${s.id}/views`));
      if (v) notify(`${v.total_views} views: ${v.views.map((x) => x.viewer.name).join(', ') || 'nobody yet'}`);
    } }, 'Views') : null;
    const remove = person.is_mine ? el('button.small.danger', { type: 'button', onclick: async () => {
      if (await attempt(() => del(`/api/status/${s.id}`))) { d.close(); reload(); }
    } }, 'Delete') : null;
    box.replaceChildren(statusBody(s), el('p.hint', time(s.created_at), ' ', `(${i + 1}/${person.statuses.length})`),
      el('div.row', views, remove, el('button.small', { type: 'button', onclick: () => { i++; step(); } }, i + 1 < person.statuses.length ? 'Next' : 'Close')));
    if (!person.is_mine && !s.is_viewed) post(`/api/status/${s.id}/view`).catch(() => {});
  };
  step();
}

export async function openStatus() {
  const list = el('ul.people#status-list');
  const text = el('input#status-text', { placeholder: 'Type a status', maxlength: 700 });
  const color = el('select', COLORS.map((c) => el('option', { value: c }, c)));
  const photo = el('input#status-photo', { type: 'file', accept: 'image/*,video/*' });
  const progress = el('progress', { max: 1, value: 0, hidden: true });
  const load = async () => {
    const res = await attempt(() => get('/api/status'));
    if (!res) return;
    list.replaceChildren(...res.statuses.map((p) => el('li.person' + (p.all_viewed ? '.viewed' : '.unviewed'), { dataset: { userId: p.user.id }, onclick: () => show(p, load) },
      avatar(p.user.name, p.user.avatar_url),
      el('div.person-text', el('strong', p.is_mine ? 'My status' : p.user.name), el('small', `${p.statuses.length} · ${time(p.latest_status_at)}`)))));
    if (!res.statuses.length) list.append(el('li.hint', 'No statuses in the last 24 hours.'));
  };
  panel('Status', el('form.card#status-form', {
    onsubmit: async (e) => {
      e.preventDefault();
      const file = photo.files[0];
      let r;
      if (file) {
        const form = new FormData();
        form.append('content_type', file.type.startsWith('video/') ? 'video' : 'image');
        if (text.value.trim()) form.append('content', text.value.trim());
        form.append('media', file);
        progress.hidden = false;
        r = await attempt(() => upload('POST', '/api/status', form, (f) => { progress.value = f; }));
        progress.hidden = true;
      } else {
        if (!text.value.trim()) return;
        r = await attempt(() => post('/api/status', { content_type: 'text', content: text.value.trim(), background_color: color.value }));
      }
      if (r) { text.value = ''; photo.value = ''; notify('Status posted'); load(); }
    },
  }, el('h3', 'Post a status'), text, el('label', 'Background', color), el('label', 'or a photo / video', photo), progress, el('button', { type: 'submit' }, 'Post')), list);
  load();
}
