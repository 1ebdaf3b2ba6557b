// Courier's web client in a real Chromium (Debian's /usr/bin/chromium, headless), driven by
// Playwright: two people in two browser contexts sign in, chat, watch the ticks go to read,
// see each other typing, send a photo, make a group and have a video call (fake camera and
// microphone) until both sides show it connected. Run by tests/api/web.rs against a server on
// a random port (COURIER_URL, COURIER_OTP); screenshots of each step go to SCREENSHOT_DIR.
// Every wait is on a selector or a page condition, never a fixed sleep.

import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import net from 'node:net';

const URL = process.env.COURIER_URL || 'http://127.0.0.1:8080';
const OTP = process.env.COURIER_OTP || '123456';
const SHOTS = process.env.SCREENSHOT_DIR || join(process.cwd(), 'screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const LIMIT_MS = Number(process.env.WEB_TEST_LIMIT_MS || 150000);
const WAIT = { timeout: 20000 };

mkdirSync(SHOTS, { recursive: true });
const overall = setTimeout(() => { console.error(`FAIL: over the ${LIMIT_MS} ms limit`); process.exit(1); }, LIMIT_MS);

let step = 0;
const problems = [];
function log(text) { console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${text}`); }
const started = Date.now();

/** A screenshot of the step; passing notices leave the picture unless they are its subject. */
async function shot(page, name, { notices = false } = {}) {
  const file = join(SHOTS, `${String(++step).padStart(2, '0')}-${name}.png`);
  // (Playwright's `style` option would inject a style sheet, which the page's policy refuses.)
  if (!notices) await page.evaluate(() => { document.querySelector('#notices').hidden = true; });
  await page.screenshot({ path: file });
  if (!notices) await page.evaluate(() => { document.querySelector('#notices').hidden = false; });
  log(`screenshot ${file}`);
}

/** A small PNG (a red square with a white cross), so the server has a real image to decode. */
function png(size = 48) {
  const raw = Buffer.alloc((size * 3 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 3 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const o = y * (size * 3 + 1) + 1 + x * 3;
      const cross = Math.abs(x - size / 2) < 4 || Math.abs(y - size / 2) < 4;
      raw[o] = 220; raw[o + 1] = cross ? 255 : 40; raw[o + 2] = cross ? 255 : 40;
    }
  }
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = table[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4); ihdr[8] = 8; ihdr[9] = 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * A TCP relay in front of the server, for one person: `drop()` cuts every connection and
 * refuses new ones (the network is gone), `restore()` lets them through again.
 */
function relay(target) {
  const { hostname, port } = new globalThis.URL(target);
  const open = new Set();
  let up = true;
  const server = net.createServer((client) => {
    if (!up) { client.destroy(); return; }
    const upstream = net.connect(Number(port), hostname);
    const pair = [client, upstream];
    pair.forEach((s) => open.add(s));
    const end = () => pair.forEach((s) => { s.destroy(); open.delete(s); });
    client.pipe(upstream);
    upstream.pipe(client);
    pair.forEach((s) => { s.on('error', end); s.on('close', end); });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    drop() { up = false; for (const s of open) s.destroy(); open.clear(); },
    restore() { up = true; },
    close() { this.drop(); server.close(); },
  })));
}

async function person(browser, name, viewport) {
  const context = await browser.newContext({ viewport, permissions: ['camera', 'microphone'] });
  // WEB_DEV_DIR=../../web serves the page's modules and style sheet from the work tree instead
  // of the binary, to try a change to them without rebuilding the server (index.html still
  // comes from the server: a page served by Playwright itself may not reach 127.0.0.1).
  if (process.env.WEB_DEV_DIR) {
    const types = { js: 'text/javascript', css: 'text/css', html: 'text/html' };
    const serve = (route, file) => route.fulfill({ body: readFileSync(join(process.env.WEB_DEV_DIR, file)), contentType: types[file.split('.').pop()] });
    await context.route(/\/web\/[a-z]+\.(js|css)$/, (route) => serve(route, new globalThis.URL(route.request().url()).pathname.slice(5)));
  }
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    // The browser's own lines about refused requests and sockets (a 4xx the page handles, a
    // reconnect after the network or a token went away) are expected; anything else is not.
    if (m.type() === 'error' && !/Failed to load resource|WebSocket connection to .* failed/.test(m.text())) problems.push(`${name}: console error: ${m.text()}`);
  });
  return { name, context, page };
}

async function signIn({ page, name, url = URL }, phone) {
  await page.goto(url);
  await page.fill('#phone', phone);
  await page.click('#send-code');
  await page.waitForSelector('#code-hint:has-text("console SMS provider")', WAIT);
  await page.fill('#code', OTP);
  await page.fill('#name', name);
  await page.click('#verify');
  await page.waitForSelector(`#me:has-text("${name}")`, WAIT);
  await page.waitForSelector('#conn', { state: 'hidden', ...WAIT });
  log(`${name} signed in`);
}

async function addContact({ page }, phone, name) {
  await page.click('#open-contacts');
  await page.fill('#contact-phone', phone);
  await page.fill('#contact-name', name);
  await page.click('#add-contact button[type=submit]');
  await page.waitForSelector(`#contacts li:has-text("${name}")`, WAIT);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
  });
  log(`Chromium ${browser.version()}`);
  const ana = await person(browser, 'Ana', { width: 1100, height: 720 });
  const bo = await person(browser, 'Bo', { width: 390, height: 800 }); // a phone-sized screen
  const boNetwork = await relay(URL); // Bo reaches the server through a network we can cut
  bo.url = boNetwork.url;
  try {
    await signIn(ana, '+14155560001');
    await signIn(bo, '+14155560002');
    await shot(ana.page, 'signed-in');

    // Ana's profile: a photo (upload), an about line, and who may see her last seen.
    await ana.page.click('#me');
    await ana.page.setInputFiles('#profile-photo', { name: 'me.png', mimeType: 'image/png', buffer: png(64) });
    await ana.page.waitForSelector('#me img.avatar', WAIT);
    await ana.page.fill('#profile-about', 'Out sailing');
    await ana.page.click('#panel form button:has-text("Save")');
    await ana.page.waitForSelector('.notice:has-text("Profile saved")', WAIT);
    await ana.page.selectOption('select[data-privacy="last_seen"]', 'contacts');
    await ana.page.waitForSelector('.notice:has-text("Privacy saved")', WAIT);
    await ana.page.click('#panel .panel-head button');
    log('profile photo, about and privacy saved');

    // Contacts both ways (Bo's default "groups: contacts" lets Ana add him to a group).
    await addContact(bo, '+14155560001', 'Ana');
    await bo.page.click('#panel .panel-head button');
    await addContact(ana, '+14155560002', 'Bo');
    await ana.page.click('#contacts li:has-text("Bo") button:has-text("Message")');
    await ana.page.waitForSelector('#chat-title:has-text("Bo")', WAIT);

    // Ana writes; Bo sees the chat with an unread count, opens it; Ana's ticks turn to read.
    await ana.page.fill('#text', 'Hello Bo ');
    await ana.page.click('#emoji');
    await ana.page.click('#emoji-picker button:has-text("👋")');
    await ana.page.press('#text', 'Enter');
    await ana.page.waitForSelector('.msg.mine:has-text("Hello Bo") .ticks:not([data-status="pending"])', WAIT);
    await bo.page.waitForSelector('.chat-item:has-text("Ana") .badge:has-text("1")', WAIT);
    await bo.page.waitForSelector('.chat-item:has-text("Ana") .preview:has-text("Hello Bo")', WAIT);
    await shot(bo.page, 'unread-on-phone');
    await ana.page.waitForSelector('.msg.mine:has-text("Hello Bo") .ticks[data-status="delivered"]', WAIT);
    await bo.page.click('.chat-item:has-text("Ana")');
    await bo.page.waitForSelector('.msg.theirs:has-text("Hello Bo")', WAIT);
    await ana.page.waitForSelector('.msg.mine:has-text("Hello Bo") .ticks[data-status="read"]', WAIT);
    log('ticks reached read');

    // Bo types: Ana sees it in the chat's header and above the composer; then his message.
    await bo.page.click('#text');
    await bo.page.keyboard.type('Hi Ana');
    await ana.page.waitForSelector('#typing:has-text("typing")', WAIT);
    await ana.page.waitForSelector('.chat-item:has-text("Bo") .typing-inline', WAIT);
    await shot(ana.page, 'typing');
    await bo.page.press('#text', 'Enter');
    await ana.page.waitForSelector('.msg.theirs:has-text("Hi Ana")', WAIT);
    await ana.page.waitForFunction(() => !document.querySelector('#typing').textContent, null, WAIT);
    log('typing shown and cleared');

    // A reply with an emoji, and a photo with upload progress on Ana's side.
    await ana.page.click('.msg.theirs:has-text("Hi Ana") .bubble');
    await ana.page.click('.modal button:has-text("Reply")');
    await ana.page.fill('#text', 'Photo coming 📷');
    await ana.page.press('#text', 'Enter');
    await bo.page.waitForSelector('.msg.theirs:has-text("Photo coming") .quote:has-text("Hi Ana")', WAIT);
    await ana.page.setInputFiles('#file', { name: 'cross.png', mimeType: 'image/png', buffer: png() });
    await bo.page.waitForSelector('.msg.theirs img.photo', WAIT);
    await bo.page.waitForFunction(() => {
      const img = document.querySelector('.msg.theirs img.photo');
      return img && img.complete && img.naturalWidth > 0;
    }, null, WAIT);
    await ana.page.waitForSelector('.msg.mine img.photo', WAIT);
    await ana.page.waitForSelector('.msg.mine:has(img.photo) .ticks[data-status="read"]', WAIT);
    await shot(ana.page, 'chat');
    await shot(bo.page, 'chat-on-phone');
    log('photo delivered and read');

    // Bo reacts to the photo; Ana sees the reaction live.
    await bo.page.click('.msg.theirs:has(img.photo) .bubble', { position: { x: 5, y: 5 } });
    await bo.page.click('.modal .react-row button:has-text("👍")');
    await ana.page.waitForSelector('.msg.mine:has(img.photo) .reaction:has-text("👍 1")', WAIT);

    // A group with Bo.
    await ana.page.click('#new-group');
    await ana.page.fill('#group-name', 'Weekend');
    await ana.page.check('#group-form label.check:has-text("Bo") input');
    await ana.page.click('#create-group');
    await ana.page.waitForSelector('#chat-title:has-text("Weekend")', WAIT);
    await ana.page.fill('#text', 'Who is in?');
    await ana.page.press('#text', 'Enter');
    await bo.page.click('#back');
    await bo.page.waitForSelector('.chat-item:has-text("Weekend") .preview:has-text("Who is in?")', WAIT);
    await shot(bo.page, 'group-in-list');
    log('group created');

    // A refusal shows the API's error: a number that is not a Courier user.
    await ana.page.click('#open-contacts');
    await ana.page.fill('#contact-phone', '+14155560999');
    await ana.page.fill('#contact-name', 'Nobody');
    await ana.page.click('#add-contact button[type=submit]');
    await ana.page.waitForSelector('.notice.error:has-text("user_not_found")', WAIT);
    await ana.page.click('#panel .panel-head button');
    log('refusal shown');

    // Ana renames the group from its page; Bo's list follows.
    await ana.page.click('.chat-item:has-text("Weekend")');
    await ana.page.click('#chat-head');
    await ana.page.fill('#group-rename', 'Weekend trip');
    await ana.page.click('#panel form button:has-text("Save")');
    await bo.page.waitForSelector('.chat-item:has-text("Weekend trip")', WAIT);
    await ana.page.setInputFiles('#group-photo', { name: 'group.png', mimeType: 'image/png', buffer: png(80) });
    await bo.page.waitForSelector('.chat-item:has-text("Weekend trip") img.avatar', WAIT);
    await ana.page.click('#panel .panel-head button');
    log('group renamed, its photo changed');

    // History pages back: 35 more messages (over REST, with Ana's token), Bo loads the rest.
    await ana.page.evaluate(async () => {
      const { access_token } = JSON.parse(localStorage.getItem('courier.session'));
      const chat = [...document.querySelectorAll('.chat-item')].find((li) => li.textContent.includes('Weekend trip')).dataset.chatId;
      for (let i = 1; i <= 35; i++) {
        const res = await fetch(`/api/chats/${chat}/messages`, {
          method: 'POST', headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ content: `plan ${i}`, client_msg_id: `plan-${i}` }),
        });
        if (!res.ok) throw new Error(`message ${i}: ${res.status} ${await res.text()}`);
      }
    });
    await bo.page.reload(); // a fresh page holds nothing but what it loads
    await bo.page.waitForSelector('#conn', { state: 'hidden', ...WAIT });
    await bo.page.click('.chat-item:has-text("Weekend trip")');
    await bo.page.waitForSelector('.msg.theirs:has-text("plan 35")', WAIT);
    if (await bo.page.locator('.msg:has-text("Who is in?")').count()) throw new Error('the first page holds the whole history');
    await bo.page.click('#earlier');
    await bo.page.waitForSelector('.msg.theirs:has-text("Who is in?")', WAIT);
    await bo.page.waitForSelector('.msg.theirs:has-text("plan 1")', WAIT);
    await bo.page.click('#back');
    log('history paged back');

    // Ana edits, then deletes for everyone, her group message; Bo sees both live.
    await bo.page.click('.chat-item:has-text("Weekend")');
    await bo.page.waitForSelector('.msg.theirs:has-text("Who is in?")', WAIT);
    await ana.page.click('.chat-item:has-text("Weekend trip")');
    await ana.page.click('.msg.mine:has-text("Who is in?") .bubble');
    await ana.page.click('.modal button:has-text("Edit")');
    await ana.page.fill('#edit-text', 'Who is in on Saturday?');
    await ana.page.click('.modal footer button:has-text("Save")');
    await bo.page.waitForSelector('.msg.theirs:has-text("Who is in on Saturday?") .edited', WAIT);
    await ana.page.click('.msg.mine:has-text("Saturday") .bubble');
    await ana.page.click('.modal button:has-text("Delete for everyone")');
    await bo.page.waitForSelector('.msg.theirs .deleted:has-text("This message was deleted")', WAIT);
    await bo.page.click('#back');
    log('edit and delete for everyone seen live');

    // A document, and "delete for me" on Bo's side only.
    await ana.page.click('.chat-item:has-text("Bo")');
    await ana.page.setInputFiles('#file', { name: 'packing-list.txt', mimeType: 'text/plain', buffer: Buffer.from('tent\nstove\nmap\n') });
    await ana.page.waitForSelector('.msg.mine a.document:has-text("packing-list.txt")', WAIT);
    await bo.page.click('.chat-item:has-text("Ana")');
    await bo.page.waitForSelector('.msg.theirs a.document:has-text("packing-list.txt")', WAIT);
    await bo.page.click('.msg.theirs:has-text("Hello Bo") .bubble');
    await bo.page.click('.modal button:has-text("Delete for me")');
    await bo.page.waitForSelector('.msg:has-text("Hello Bo")', { state: 'detached', ...WAIT });
    await ana.page.waitForSelector('.msg.mine:has-text("Hello Bo")', WAIT);
    log('document sent, a message deleted for one side');

    // Bo blocks Ana: her next message is refused with the server's code; he unblocks.
    await bo.page.click('#back');
    await bo.page.click('#open-contacts');
    await bo.page.click('#contacts li:has-text("Ana") button:has-text("Block")');
    await bo.page.waitForSelector('#contacts li:has-text("Ana") button:has-text("Unblock")', WAIT);
    await ana.page.fill('#text', 'Are you there?');
    await ana.page.press('#text', 'Enter');
    await ana.page.waitForSelector('.notice.error:has-text("blocked")', WAIT);
    await shot(ana.page, 'refused-across-a-block', { notices: true });
    await bo.page.click('#contacts li:has-text("Ana") button:has-text("Unblock")');
    await bo.page.waitForSelector('#contacts li:has-text("Ana") button:has-text("Block")', WAIT);
    await bo.page.click('#panel .panel-head button');
    log('block refused a message, unblock restored');

    // A status from Ana, seen by Bo (they have each other in their contacts).
    await ana.page.click('#open-status');
    await ana.page.fill('#status-text', 'Out sailing ⛵');
    await ana.page.click('#status-form button[type=submit]');
    await ana.page.waitForSelector('#status-list li:has-text("My status")', WAIT);
    await ana.page.click('#panel .panel-head button');
    await bo.page.click('#open-status');
    await bo.page.click('#status-list li:has-text("Ana")');
    await bo.page.waitForSelector('.modal .status-text:has-text("Out sailing")', WAIT);
    await shot(bo.page, 'status-on-phone');
    await bo.page.click('.modal header button');
    await bo.page.click('#panel .panel-head button');
    log('status posted and viewed');

    // Bo's network drops: his page says so, reconnects by itself and catches up with sync.
    boNetwork.drop();
    await bo.page.waitForSelector('#conn:has-text("Offline")', WAIT);
    await ana.page.click('.chat-item:has-text("Bo")');
    await ana.page.fill('#text', 'While you were away');
    await ana.page.press('#text', 'Enter');
    await ana.page.waitForSelector('.msg.mine:has-text("While you were away") .ticks[data-status="sent"]', WAIT);
    await shot(bo.page, 'offline-on-phone');
    boNetwork.restore();
    await bo.page.waitForSelector('#conn', { state: 'hidden', timeout: 40000 });
    await bo.page.waitForSelector('.chat-item:has-text("Ana") .preview:has-text("While you were away")', WAIT);
    await ana.page.waitForSelector('.msg.mine:has-text("While you were away") .ticks[data-status="delivered"]', WAIT);
    log('reconnected and caught up');

    // Ana calls Bo (video); Bo's phone rings, he answers; both show the call connected.
    await ana.page.click('.chat-item:has-text("Bo")');
    await ana.page.waitForSelector('#chat-title:has-text("Bo")', WAIT);
    await ana.page.click('#call-video');
    await bo.page.waitForSelector('#call[data-state="incoming"]', WAIT);
    await ana.page.waitForSelector('#call[data-state="ringing"], #call[data-state="connecting"]', WAIT);
    await shot(bo.page, 'incoming-call');
    await bo.page.click('#call-answer');
    await ana.page.waitForSelector('#call[data-state="connected"]', { timeout: 30000 });
    await bo.page.waitForSelector('#call[data-state="connected"]', { timeout: 30000 });
    for (const p of [ana.page, bo.page]) {
      await p.waitForFunction(() => {
        const v = document.querySelector('#remote-video');
        return v.srcObject && v.readyState >= 2 && v.videoWidth > 0;
      }, null, WAIT);
    }
    await shot(ana.page, 'call');
    await shot(bo.page, 'call-on-phone');
    log('call connected, video flowing both ways');
    await ana.page.click('#call-hangup');
    await bo.page.waitForSelector('#call[data-state="over"]', WAIT);
    await bo.page.waitForSelector('#call-state:has-text("ended by Ana")', WAIT);
    log('hung up');

    // Bo calls back (audio); Ana declines; Bo is told.
    await bo.page.waitForSelector('#call', { state: 'hidden', ...WAIT });
    await bo.page.click('.chat-item:has-text("Ana")');
    await bo.page.click('#call-audio');
    await ana.page.waitForSelector('#call[data-state="incoming"]', WAIT);
    await ana.page.click('#call-decline');
    await bo.page.waitForSelector('#call-state:has-text("Ana declined")', WAIT);
    log('declined call seen by the caller');

    // Under the test harness the server's clock is ours to move: an unanswered call is missed.
    if (process.env.COURIER_CLOCK === 'stdout') {
      await bo.page.waitForSelector('#call', { state: 'hidden', ...WAIT });
      await ana.page.click('#call-audio');
      await bo.page.waitForSelector('#call[data-state="incoming"]', WAIT);
      console.log('@clock advance 46'); // past calls.ring_timeout_secs (45)
      await bo.page.waitForSelector('#call-state:has-text("Missed call")', WAIT);
      await ana.page.waitForSelector('#call-state:has-text("No answer")', WAIT);
      await ana.page.click('#open-calls');
      await ana.page.waitForSelector('#call-history li[data-status="missed"]', WAIT);
      await ana.page.waitForSelector('#call-history li[data-status="declined"]', WAIT);
      await shot(ana.page, 'call-history');
      log('missed call on both sides and in the history');

      // An hour and more later (the server's clock) the access tokens have expired and the
      // sockets fall silent: the pages refresh their tokens, reconnect and go on.
      await ana.page.click('#panel .panel-head button');
      console.log('@clock advance 3700'); // past auth.access_ttl_secs (3600)
      await ana.page.click('#open-contacts');
      await ana.page.waitForSelector('#contacts li:has-text("Bo")', WAIT);
      await ana.page.click('#panel .panel-head button');
      await ana.page.fill('#text', 'Still there?');
      await ana.page.press('#text', 'Enter');
      await bo.page.waitForSelector('.msg.theirs:has-text("Still there?")', { timeout: 60000 }); // his chat with Ana is open
      await ana.page.waitForSelector('.msg.mine:has-text("Still there?") .ticks[data-status="delivered"], .msg.mine:has-text("Still there?") .ticks[data-status="read"]', { timeout: 60000 });
      log('tokens refreshed after expiry, messages flow again');
    }

    if (problems.length) throw new Error(`the page reported problems:\n${problems.join('\n')}`);
    console.log(`screenshots in ${SHOTS}`);
    console.log('all web client checks passed');
  } catch (e) {
    for (const p of [ana, bo]) await shot(p.page, `failure-${p.name}`, { notices: true }).catch(() => {});
    throw e;
  } finally {
    boNetwork.close();
    await browser.close();
  }
}

main().then(() => { clearTimeout(overall); }).catch((e) => {
  console.error('FAIL:', e.message);
  if (problems.length) console.error(problems.join('\n'));
  process.exit(1);
});
