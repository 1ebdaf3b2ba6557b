// Entry point: sign-in with phone and one-time code, then the main screen (chat list,
// conversation, panels), the socket and the connection banner.

import { auth, get, post, ApiError } from './api.js';
import { socket } from './ws.js';
import { state, listen, loadChats, onChange } from './state.js';
import { $, fail, notify, avatar } from './ui.js';
import { renderChatList, initChatList } from './chats.js';
import { initConversation } from './conversation.js';
import { openContacts, openProfile, refreshInvites } from './people.js';
import { openNewGroup } from './groups.js';
import { openStatus } from './status.js';
import { initCalls, openCallHistory } from './call.js';

let phone = '';

function showSignIn() {
  $('#app').hidden = true;
  $('#signin').hidden = false;
  $('#phone-form').hidden = false;
  $('#code-form').hidden = true;
  $('#phone').focus();
}

$('#phone-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  phone = $('#phone').value.trim();
  const button = $('#send-code');
  button.disabled = true;
  try {
    const res = await post('/api/auth/send-otp', { phone_number: phone });
    $('#phone-form').hidden = true;
    $('#code-form').hidden = false;
    $('#code-hint').textContent = res.delivery === 'console'
      ? `This server uses the console SMS provider: the code for ${phone} is in the server's log (a line "SMS: Your Courier code is …").`
      : `A code was sent to ${phone} by SMS.`;
    $('#code').focus();
  } catch (err) { fail(err); } finally { button.disabled = false; }
});

$('#change-phone').addEventListener('click', showSignIn);

$('#code-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const button = $('#verify');
  button.disabled = true;
  try {
    const body = { phone_number: phone, otp: $('#code').value.trim() };
    const name = $('#name').value.trim();
    if (name) body.name = name;
    const res = await post('/api/auth/verify-otp', body, { anonymous: true });
    auth.set(res.tokens, res.user);
    $('#code').value = '';
    await start();
  } catch (err) { fail(err); } finally { button.disabled = false; }
});

export function renderMe() {
  const u = auth.session?.user || {};
  const me = $('#me');
  me.replaceChildren(avatar(u.name, u.avatar_url), document.createTextNode(u.name || ''));
}

function banner({ online, retryIn }) {
  const conn = $('#conn');
  conn.hidden = online;
  conn.textContent = online ? '' : retryIn ? `Offline — reconnecting in ${Math.ceil(retryIn / 1000)} s…` : 'Connecting…';
  document.body.classList.toggle('offline', !online);
}

let started = false;
async function start() {
  $('#signin').hidden = true;
  $('#app').hidden = false;
  try {
    const profile = await get('/api/user/profile');
    auth.setUser(profile);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) { auth.clear(); showSignIn(); return; }
    fail(err);
  }
  renderMe();
  if (!started) {
    started = true;
    listen();
    initChatList();
    initConversation();
    initCalls();
    onChange((kind) => { if (kind === 'chats') renderChatList(); });
    socket.on('state', banner);
    socket.on('signed-out', ({ reason }) => { notify(`Signed out: ${reason || 'session ended'}`, 'error'); signOut(false); });
    socket.on('frame-error', (f) => fail(f));
    socket.on('group-invite', () => refreshInvites());
    $('#me').addEventListener('click', openProfile);
    $('#open-contacts').addEventListener('click', openContacts);
    $('#new-group').addEventListener('click', openNewGroup);
    $('#open-status').addEventListener('click', openStatus);
    $('#open-calls').addEventListener('click', openCallHistory);
  }
  banner({ online: false });
  try {
    socket.cursor = (await get('/api/sync/cursor')).cursor;
    await loadChats();
  } catch (err) { fail(err); }
  refreshInvites();
  socket.start();
}

export async function signOut(tellServer = true) {
  socket.stop();
  if (tellServer) { try { await post('/api/auth/logout'); } catch { /* signed out either way */ } }
  auth.clear();
  state.chats.clear();
  state.messages.clear();
  location.reload();
}

// Media links expire: nothing to do here, the API hands fresh ones with every answer.
if (auth.session) start(); else showSignIn();
