// DOM helpers shared by the views: element building (text only, never innerHTML with data),
// notices for refusals, times, avatars and a small modal dialog.

/** `el('div#id.a.b', {attrs}, ...children)`; strings become text nodes. */
export function el(spec, attrs = {}, ...children) {
  const tag = spec.match(/^[a-z0-9]*/i)[0];
  const id = spec.match(/#([\w-]+)/)?.[1];
  const classes = [...spec.matchAll(/\.([\w-]+)/g)].map((m) => m[1]);
  const node = document.createElement(tag || 'div');
  if (id) node.id = id;
  if (classes.length) node.className = classes.join(' ');
  if (attrs === null || typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'style') Object.assign(node.style, v); // CSSOM: allowed by the page's CSP
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** A notice at the bottom of the screen; refusals show the API's message and code. */
export function notify(text, kind = 'info') {
  const box = $('#notices');
  const n = el('div.notice.' + kind, { role: kind === 'error' ? 'alert' : 'status' }, text);
  box.append(n);
  setTimeout(() => n.remove(), kind === 'error' ? 8000 : 4000);
}

/** Shows what went wrong with an action. */
export function fail(err) {
  console.warn(err);
  const text = err?.describe ? err.describe() : err?.code ? `${err.message} [${err.code}]` : String(err?.message || err);
  notify(text, 'error');
}

/** Runs an async action, showing any refusal. */
export async function attempt(fn) {
  try { return await fn(); } catch (e) { fail(e); return undefined; }
}

export function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleDateString([], { day: 'numeric', month: 'short' });
}

export function lastSeen(p) {
  if (!p) return '';
  if (p.is_online) return 'online';
  if (p.last_seen_at) return `last seen ${time(p.last_seen_at)}`;
  return '';
}

export function avatar(name, url, size = '') {
  if (url) return el('img.avatar' + (size ? '.' + size : ''), { src: url, alt: '' });
  const initials = (name || '?').split(/\s+/).map((w) => w[0]).join('').slice(0, 2).toUpperCase();
  return el('span.avatar' + (size ? '.' + size : ''), { 'aria-hidden': 'true' }, initials);
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A modal built from `content`; resolves when closed. */
export function dialog(title, content, { actions = [] } = {}) {
  const back = el('div.modal-back');
  const close = () => { back.remove(); };
  const box = el('div.modal', { role: 'dialog', 'aria-label': title },
    el('header', el('h2', title), el('button.icon', { type: 'button', title: 'Close', onclick: close }, '✕')),
    el('div.modal-body', content),
    actions.length ? el('footer', actions) : null);
  back.append(box);
  back.addEventListener('click', (e) => { if (e.target === back) close(); });
  document.body.append(back);
  return { close, box };
}

export function uuid() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/** Shows `content` in the sidebar's panel (over the chat list) with a back button. */
export function panel(title, ...content) {
  const box = $('#panel');
  box.hidden = false;
  $('#chat-list').hidden = true;
  const close = () => { box.hidden = true; box.replaceChildren(); $('#chat-list').hidden = false; };
  box.replaceChildren(
    el('header.panel-head', el('button.icon', { type: 'button', title: 'Back', onclick: close }, '←'), el('h2', title)),
    el('div.panel-body', content));
  return { close, body: box.querySelector('.panel-body') };
}
