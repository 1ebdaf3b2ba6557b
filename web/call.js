// Audio and video calls: ringing, answer, decline, missed, hang up over the socket's call
// frames, and WebRTC between the two devices, negotiated with `call-signal` over the ICE
// servers the server hands out (GET /api/calls/ice-servers).

import { get } from './api.js';
import { socket } from './ws.js';
import { state, chatTitle } from './state.js';
import { $, el, time, attempt, fail, notify, panel } from './ui.js';

let call = null; // {id, chatId, type, role, peer, pc, stream, offer, candidates, status}

function overlay(status, text) {
  const box = $('#call');
  box.hidden = false;
  box.dataset.state = status;
  box.classList.toggle('video', call?.type === 'video');
  box.classList.toggle('live', Boolean(call?.stream));
  $('#call-peer').textContent = call?.peer || '';
  $('#call-state').textContent = text;
  $('#call-answer').hidden = status !== 'incoming';
  $('#call-decline').hidden = status !== 'incoming';
  $('#call-hangup').hidden = status === 'incoming';
}

function finish(text) {
  if (!call) return;
  const done = call;
  call = null;
  clearInterval(done.timer);
  done.pc?.close();
  done.stream?.getTracks().forEach((t) => t.stop());
  $('#remote-video').srcObject = null;
  $('#local-video').srcObject = null;
  const box = $('#call');
  box.dataset.state = 'over';
  box.classList.remove('live');
  $('#call-state').textContent = text;
  $('#call-answer').hidden = true;
  $('#call-decline').hidden = true;
  $('#call-hangup').hidden = true;
  setTimeout(() => { if (!call) box.hidden = true; }, 2500);
}

async function iceServers() {
  const res = await get('/api/calls/ice-servers').catch(() => ({ ice_servers: [] }));
  return res.ice_servers.map((s) => ({ urls: s.urls, username: s.username, credential: s.credential }));
}

async function media(type) {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: type === 'video' });
  } catch (e) {
    throw new Error(`camera or microphone unavailable: ${e.message}`);
  }
}

async function peer(type) {
  const pc = new RTCPeerConnection({ iceServers: await iceServers() });
  call.pc = pc;
  call.stream = await media(type);
  call.stream.getTracks().forEach((t) => pc.addTrack(t, call.stream));
  $('#local-video').srcObject = call.stream;
  $('#call').classList.add('live');
  pc.onicecandidate = (e) => {
    if (e.candidate && call) socket.cast({ type: 'call-signal', call_id: call.id, kind: 'ice-candidate', payload: e.candidate.toJSON() });
  };
  pc.ontrack = (e) => { $('#remote-video').srcObject = e.streams[0]; };
  pc.onconnectionstatechange = () => {
    if (!call || call.pc !== pc) return;
    if (pc.connectionState === 'connected') connected();
    if (pc.connectionState === 'failed') overlay('failed', 'Connection failed (no route between the devices; a TURN server would help)');
  };
  return pc;
}

function connected() {
  const since = Date.now();
  call.status = 'connected';
  overlay('connected', 'Connected 0:00');
  clearInterval(call.timer);
  call.timer = setInterval(() => {
    const s = Math.floor((Date.now() - since) / 1000);
    if (call?.status === 'connected') $('#call-state').textContent = `Connected ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }, 1000);
}

async function flushCandidates() {
  const pending = call.candidates.splice(0);
  for (const c of pending) await call.pc.addIceCandidate(c).catch((e) => console.warn('candidate', e));
}

export async function startCall(chatId, type) {
  if (call) { notify('You are already in a call', 'error'); return; }
  const chat = state.chats.get(chatId);
  call = { chatId, type, role: 'caller', peer: chatTitle(chat), candidates: [], status: 'calling' };
  overlay('calling', `Calling (${type})…`);
  try {
    const ack = await socket.request({ type: 'call-initiate', chat_id: chatId, call_type: type });
    call.id = ack.call.id;
    const pc = await peer(type);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    socket.cast({ type: 'call-signal', call_id: call.id, kind: 'offer', payload: { type: offer.type, sdp: offer.sdp } });
  } catch (e) {
    const id = call?.id;
    finish('Call failed');
    if (id) socket.request({ type: 'call-end', call_id: id }).catch(() => {});
    fail(e);
  }
}

async function answer() {
  if (!call || call.role !== 'callee') return;
  overlay('connecting', 'Connecting…');
  try {
    await socket.request({ type: 'call-answer', call_id: call.id });
    const pc = await peer(call.type);
    const offer = call.offer || await new Promise((resolve) => { call.waitOffer = resolve; });
    await pc.setRemoteDescription(offer);
    const ans = await pc.createAnswer();
    await pc.setLocalDescription(ans);
    socket.cast({ type: 'call-signal', call_id: call.id, kind: 'answer', payload: { type: ans.type, sdp: ans.sdp } });
    await flushCandidates();
  } catch (e) {
    finish('Call failed');
    fail(e);
  }
}

async function signal({ call_id, kind, payload }) {
  if (!call || call.id !== call_id) return;
  if (kind === 'offer') {
    call.offer = payload;
    call.waitOffer?.(payload);
  } else if (kind === 'answer' && call.pc) {
    await call.pc.setRemoteDescription(payload);
    await flushCandidates();
  } else if (kind === 'ice-candidate') {
    call.candidates.push(payload);
    if (call.pc?.remoteDescription) await flushCandidates();
  }
}

function incoming({ call: c }) {
  if (call) return; // busy here; the server tells the caller through `busy`
  call = { id: c.id, chatId: c.chat_id, type: c.call_type, role: 'callee', peer: c.caller.name, candidates: [], status: 'incoming' };
  overlay('incoming', `Incoming ${c.call_type} call${c.busy ? ' (you are in another call)' : ''}`);
  socket.request({ type: 'call-ringing', call_id: c.id }).catch(() => {});
}

export function initCalls() {
  socket.on('call-initiated', incoming);
  socket.on('call-signal', (d) => signal(d).catch((e) => console.warn('signal', e)));
  socket.on('call-ringing', ({ call: c }) => { if (call?.id === c.id && call.role === 'caller' && call.status === 'calling') overlay('ringing', 'Ringing…'); });
  socket.on('call-answered', ({ call: c, answered_by }) => {
    if (call?.id !== c.id) return;
    if (call.role === 'callee' && call.status === 'incoming') finish(`Answered on another device (${answered_by.name})`);
    else if (call.role === 'caller') { call.status = 'connecting'; overlay('connecting', 'Connecting…'); }
  });
  socket.on('call-declined', ({ call: c, declined_by }) => { if (call?.id === c.id) finish(`${declined_by.name} declined`); });
  socket.on('call-missed', ({ call: c }) => { if (call?.id === c.id) finish(call.role === 'callee' ? 'Missed call' : 'No answer'); });
  socket.on('call-ended', ({ call: c, ended_by }) => { if (call?.id === c.id) finish(`Call ended by ${ended_by?.name || 'the other side'}`); });
  socket.on('call-left', ({ call: c, user }) => { if (call?.id === c.id) notify(`${user.name} left the call`); });
  $('#call-answer').addEventListener('click', answer);
  $('#call-decline').addEventListener('click', async () => {
    if (!call) return;
    const id = call.id;
    finish('Declined');
    await attempt(() => socket.request({ type: 'call-decline', call_id: id }));
  });
  $('#call-hangup').addEventListener('click', async () => {
    if (!call) { $('#call').hidden = true; return; }
    const id = call.id;
    finish('Call ended');
    if (id) await attempt(() => socket.request({ type: 'call-end', call_id: id }));
  });
  // After a reconnect: a call on screen may have ended meanwhile (call events are not replayed).
  socket.on('synced', async () => {
    if (!call?.id) return;
    const res = await get('/api/calls?limit=20').catch(() => null);
    const c = res?.calls.find((x) => x.id === call.id);
    if (c && ['ended', 'missed', 'declined'].includes(c.status)) finish(`Call ${c.status}`);
    else if (c && call.status === 'connected') socket.request({ type: 'call-answer', call_id: call.id }).catch(() => {});
  });
}

export async function openCallHistory() {
  const res = await attempt(() => get('/api/calls?limit=50'));
  if (!res) return;
  panel('Calls', el('ul.people#call-history', res.calls.map((c) => el('li.person', { dataset: { callId: c.id, status: c.status } },
    el('span.call-icon', c.call_type === 'video' ? '▶' : '☏'),
    el('div.person-text',
      el('strong', c.chat.type === 'group' ? c.chat.name : c.chat.participant?.name || ''),
      el('small', `${c.direction === 'outgoing' ? '↗' : '↙'} ${c.status}${c.duration ? ` · ${c.duration} s` : ''} · ${time(c.created_at)}`))))),
  res.calls.length ? null : el('p.hint', 'No calls yet.'));
}
