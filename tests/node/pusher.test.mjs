// Drives a running Courier server with the real Pusher clients (pusher-js, laravel-echo).
// Environment: COURIER_URL (http://127.0.0.1:PORT), PUSHER_KEY, PUSHER_APP_ID, PUSHER_SECRET,
// COURIER_OTP.
// Exits non-zero on the first failed expectation or timeout.

import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import Echo from 'laravel-echo';

const require = createRequire(import.meta.url);
const Pusher = require('pusher-js');
const PusherServer = require('pusher');

const base = process.env.COURIER_URL;
const key = process.env.PUSHER_KEY;
const otp = process.env.COURIER_OTP ?? '123456';
const appId = process.env.PUSHER_APP_ID;
const secret = process.env.PUSHER_SECRET;
if (!base || !key || !appId || !secret) {
  console.error('COURIER_URL, PUSHER_KEY, PUSHER_APP_ID and PUSHER_SECRET are required');
  process.exit(2);
}
const { hostname, port } = new URL(base);
const WAIT_MS = 10000;

const sockets = { wsHost: hostname, wsPort: Number(port), forceTLS: false, enabledTransports: ['ws'], disableStats: true, cluster: 'mt1' };

async function api(method, path, token, body) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: json };
}

async function signup(phone, name) {
  let r = await api('POST', '/api/auth/send-otp', null, { phone_number: phone });
  assert.equal(r.status, 200, `send-otp: ${JSON.stringify(r.body)}`);
  r = await api('POST', '/api/auth/verify-otp', null, { phone_number: phone, otp, name });
  assert.equal(r.status, 200, `verify-otp: ${JSON.stringify(r.body)}`);
  return { id: r.body.user.id, name, token: r.body.tokens.access_token };
}

function echoFor(user) {
  return new Echo({
    broadcaster: 'pusher',
    key,
    ...sockets,
    authEndpoint: `${base}/broadcasting/auth`,
    auth: { headers: { Authorization: `Bearer ${user.token}` } },
    Pusher,
  });
}

// A promise for the first call of a callback `register` installs, or a timeout.
function first(label, register, ms = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${label}`)), ms);
    register((value) => { clearTimeout(timer); resolve(value); });
  });
}

// Collects every value a callback receives; `next()` waits for the next unseen one.
function collector(label) {
  const seen = [];
  const waiters = [];
  let taken = 0;
  return {
    push: (v) => { seen.push(v); const w = waiters.shift(); if (w) w(); },
    all: seen,
    async next(ms = WAIT_MS) {
      if (taken < seen.length) return seen[taken++];
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${label}`)), ms);
        waiters.push(() => { clearTimeout(timer); resolve(); });
      });
      return seen[taken++];
    },
  };
}

let passed = 0;
async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (e) {
    console.error(`not ok - ${name}\n  ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  }
}

const stamp = String(Date.now()).slice(-6);
const alice = await signup(`+14155${stamp.slice(-5)}1`, 'Alice');
const bob = await signup(`+14155${stamp.slice(-5)}2`, 'Bob');
const carol = await signup(`+14155${stamp.slice(-5)}3`, 'Carol');
let r = await api('POST', '/api/chats/private', alice.token, { contact_id: bob.id });
assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.body));
const chat = r.body.id;

await check('a wrong app key is refused with 4001', async () => {
  const bad = new Pusher('wrong-key', sockets);
  const e = await first('error 4001', (done) => bad.connection.bind('error', (err) => {
    if (JSON.stringify(err).includes('4001')) done(err);
  }));
  assert.ok(JSON.stringify(e).includes('4001'));
  bad.disconnect();
});

const aliceEcho = echoFor(alice);
const a = {
  status: collector('user-status-updated'), messages: collector('new-message'),
  receipts: collector('message-status-updated'), calls: collector('call-initiated'),
  typing: collector('user-typing'), whispers: collector('whisper typing'),
  custom: collector('custom-event'),
  joining: collector('joining'), leaving: collector('leaving'),
};
let aliceHere;

await check('Alice connects and subscribes to the three PRD channels', async () => {
  const user = aliceEcho.private(`user.${alice.id}`).listen('.user-status-updated', a.status.push);
  const priv = aliceEcho.private(`chat.${chat}`)
    .listen('.new-message', a.messages.push)
    .listen('.message-status-updated', a.receipts.push)
    .listen('.call-initiated', a.calls.push)
    .listen('.custom-event', a.custom.push);
  const presence = aliceEcho.join(`chat.${chat}`)
    .joining(a.joining.push).leaving(a.leaving.push)
    .listen('.user-typing', a.typing.push)
    .listenForWhisper('typing', a.whispers.push);
  await Promise.all([
    first('private-user subscribed', (done) => user.subscribed(done)),
    first('private-chat subscribed', (done) => priv.subscribed(done)),
    first('presence here', (done) => presence.here((users) => { aliceHere = users; done(); })),
  ]);
  assert.equal(aliceHere.length, 1);
  assert.equal(aliceHere[0].name, 'Alice');
  assert.ok(/^\d+\.\d+$/.test(aliceEcho.socketId()), aliceEcho.socketId());
});

const bob1 = echoFor(bob);
const bobReceipts = collector('Bob message-status-updated');
let bobPresence;

await check('Bob joins: Alice sees member_added and his user-status-updated', async () => {
  bob1.private(`chat.${chat}`).listen('.message-status-updated', bobReceipts.push);
  bobPresence = bob1.join(`chat.${chat}`);
  const here = await first('Bob here', (done) => bobPresence.here(done));
  assert.equal(here.length, 2);
  const joined = await a.joining.next();
  assert.equal(joined.id, bob.id);
  assert.equal(joined.name, 'Bob');
  const status = await a.status.next();
  assert.equal(status.contact_id, bob.id);
  assert.equal(status.is_online, true);
  assert.ok('last_seen_at' in status);
});

const bob2 = echoFor(bob);
await check("Bob's second tab is not a second member", async () => {
  const here = await first('second tab here', (done) => bob2.join(`chat.${chat}`).here(done));
  assert.equal(here.length, 2);
});

let sent;
await check('new-message over REST reaches Alice with the PRD payload', async () => {
  const r = await api('POST', `/api/chats/${chat}/messages`, bob.token, { content: 'Hello!' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  sent = r.body.message;
  const e = await a.messages.next();
  assert.equal(e.message.id, sent.id);
  assert.equal(e.message.content, 'Hello!');
  assert.equal(e.message.message_type, 'text');
  assert.equal(e.message.sender.id, bob.id);
  assert.equal(e.message.sender.name, 'Bob');
  assert.ok(!Number.isNaN(Date.parse(e.message.sent_at)), e.message.sent_at);
  assert.equal(a.joining.all.length, 1, 'one member_added for two tabs');
});

await check('message-status-updated reaches the sender when Alice reads', async () => {
  const r = await api('PUT', `/api/chats/${chat}/read`, alice.token, { message_id: sent.id });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  let e = await bobReceipts.next();
  while (e.status !== 'read') e = await bobReceipts.next();
  assert.equal(e.message_id, sent.id);
  assert.ok(!Number.isNaN(Date.parse(e.read_at)), e.read_at);
  assert.equal(e.read_by.id, alice.id);
  assert.equal(e.read_by.name, 'Alice');
});

await check("whisper('typing') is relayed and becomes user-typing", async () => {
  bobPresence.whisper('typing', { name: 'Bob', typing: true });
  const w = await a.whispers.next();
  assert.deepEqual(w, { name: 'Bob', typing: true });
  const t = await a.typing.next();
  assert.equal(t.user.id, bob.id);
  assert.equal(t.user.name, 'Bob');
  assert.equal(t.is_typing, true);
});

await check('call-initiated reaches Alice with the PRD payload', async () => {
  const r = await api('POST', '/api/calls', bob.token, { chat_id: chat, call_type: 'video' });
  assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.body));
  const e = await a.calls.next();
  assert.equal(e.call.caller.id, bob.id);
  assert.equal(e.call.caller.name, 'Bob');
  assert.equal(e.call.call_type, 'video');
  assert.ok(e.call.id > 0);
  assert.ok(!Number.isNaN(Date.parse(e.call.created_at)), e.call.created_at);
});

const backend = new PusherServer({ appId, key, secret, host: hostname, port, useTLS: false });

await check('the HTTP events API publishes to a chat channel (events and batch_events)', async () => {
  const res = await backend.trigger(`private-chat.${chat}`, 'custom-event', { hello: 'world' });
  assert.equal(res.status, 200);
  assert.deepEqual(await a.custom.next(), { hello: 'world' });
  await backend.triggerBatch([{ channel: `private-chat.${chat}`, name: 'custom-event', data: { n: 2 } }]);
  assert.deepEqual(await a.custom.next(), { n: 2 });
});

await check('the HTTP events API publishes to a public channel', async () => {
  const listener = new Pusher(key, sockets);
  const news = listener.subscribe('news');
  await first('news subscribed', (done) => news.bind('pusher:subscription_succeeded', done));
  const got = first('news event', (done) => news.bind('headline', done));
  await backend.trigger('news', 'headline', { title: 'hi' });
  assert.deepEqual(await got, { title: 'hi' });
  listener.disconnect();
});

await check('the HTTP API lists channels, one channel and presence users', async () => {
  let res = await backend.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } });
  assert.equal(res.status, 200);
  let body = await res.json();
  assert.equal(body.channels[`presence-chat.${chat}`].user_count, 2, JSON.stringify(body));
  res = await backend.get({ path: `/channels/private-chat.${chat}`, params: { info: 'subscription_count' } });
  body = await res.json();
  assert.equal(body.occupied, true);
  assert.ok(body.subscription_count >= 2, JSON.stringify(body));
  res = await backend.get({ path: `/channels/presence-chat.${chat}/users` });
  body = await res.json();
  assert.deepEqual(body.users.map((u) => u.id).sort(), [String(alice.id), String(bob.id)].sort());
});

await check('a bad HTTP API signature is refused (401)', async () => {
  const forger = new PusherServer({ appId, key, secret: 'not-the-secret-0000', host: hostname, port, useTLS: false });
  await assert.rejects(forger.trigger(`private-chat.${chat}`, 'custom-event', { evil: true }), (e) => e.status === 401);
  const none = await a.custom.next(300).then(() => 'delivered', () => 'nothing');
  assert.equal(none, 'nothing', 'a refused event is not delivered');
});

await check('the last tab closing removes the member, once', async () => {
  bob2.disconnect();
  // A frame through Alice's socket after the first tab's close: no member_removed before it.
  const r = await api('POST', `/api/chats/${chat}/messages`, bob.token, { content: 'still here' });
  assert.equal(r.status, 201);
  await a.messages.next();
  assert.equal(a.leaving.all.length, 0, 'closing one of two tabs removes nobody');
  bob1.disconnect();
  const left = await a.leaving.next();
  assert.equal(left.id, bob.id);
  const status = await a.status.next();
  assert.equal(status.contact_id, bob.id);
  assert.equal(status.is_online, false);
});

await check("a stranger is refused a chat's channels (403)", async () => {
  const carolEcho = echoFor(carol);
  const e = await first('subscription error', (done) => carolEcho.private(`chat.${chat}`).error(done));
  assert.equal(e.status, 403, JSON.stringify(e));
  const p = await first('presence error', (done) => carolEcho.join(`chat.${chat}`).error(done));
  assert.equal(p.status, 403, JSON.stringify(p));
  carolEcho.disconnect();
});

await check('a forged authorization gets pusher:subscription_error', async () => {
  const forger = new Pusher(key, {
    ...sockets,
    channelAuthorization: {
      customHandler: (params, callback) => callback(null, { auth: `${key}:${'ab'.repeat(32)}` }),
    },
  });
  const channel = forger.subscribe(`private-chat.${chat}`);
  const e = await first('subscription_error', (done) => channel.bind('pusher:subscription_error', done));
  assert.equal(e.status, 401, JSON.stringify(e));
  forger.disconnect();
});

aliceEcho.disconnect();
console.log(`all ${passed} checks passed`);
process.exit(0);
