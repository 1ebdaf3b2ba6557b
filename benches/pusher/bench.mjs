// One Pusher-protocol client benchmark, the same script for any server that speaks Pusher
// Channels protocol 7 and Pusher's HTTP events API (Courier, Soketi, …). Only host, port, key,
// secret and app id differ between servers. Loopback only.
//
//   node bench.mjs --port 8080 --key K --secret S --app-id A [--server-pid P] [options]
//   node bench.mjs --report a.json b.json …     # side-by-side table of earlier --out files
//
// Scenarios (--scenarios, comma-separated; default sequential,burst,idle):
//   sequential  one pusher-js subscriber on a public channel; the `pusher` library triggers an
//               event, waits for its HTTP answer and for the subscriber to receive it, then
//               triggers the next: --events N after --warmup W. Trigger → receipt latency
//               (p50/p99) and events/s.
//   burst       the same subscriber; --burst-events N triggers with --in-flight C requests
//               outstanding at all times (after --burst-warmup W); receipts/s from the first
//               trigger to the last receipt, trigger → receipt latency, missing/duplicates.
//   idle        --sockets K light sockets (`ws`, Pusher frames by hand) spread over --procs P
//               child processes, each subscribed to one of --idle-channels public channels;
//               the server's VmRSS (/proc/PID/status) before and --settle s after they are
//               all subscribed: (after - before) / K bytes per socket; and --close-settle s
//               after they are closed (memory given back). Needs --server-pid.
//
// Every wait is bounded (--timeout s for one answer, --deadline s for the whole run): the
// script always exits by itself. Exit status: 0 ok, 1 a scenario saw errors (HTTP refusals,
// closed sockets, missing events), 2 bad arguments or setup failure, 3 deadline.

import { createRequire } from 'node:module';
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import WebSocket from 'ws';

const require = createRequire(import.meta.url);
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { out._.push(a); continue; }
    const eq = a.indexOf('=');
    if (eq > 0) { out[a.slice(2, eq)] = a.slice(eq + 1); continue; }
    const name = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[name] = true;
    else { out[name] = next; i++; }
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const env = process.env;
const opt = (name, envName, dflt) => args[name] ?? env[envName] ?? dflt;
const num = (name, envName, dflt) => {
  const v = Number(opt(name, envName, dflt));
  if (!Number.isFinite(v) || v < 0) fail(`--${name} must be a non-negative number`);
  return v;
};

function fail(msg, code = 2) {
  console.error(`bench: ${msg}`);
  process.exit(code);
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

// ---------------------------------------------------------------- small helpers

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms, monotonic
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...m) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...m);

function within(ms, promise, label) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// Percentiles over a sorted copy (nearest rank), in ms.
function stats(samples) {
  if (samples.length === 0) return null;
  const s = Float64Array.from(samples).sort();
  const at = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const r = (x) => Math.round(x * 1000) / 1000;
  return { n: s.length, min: r(s[0]), p50: r(at(50)), p90: r(at(90)), p99: r(at(99)), max: r(s[s.length - 1]), mean: r(mean) };
}

// CPU time a process has used, in ms (utime + stime of /proc/PID/stat; USER_HZ is 100).
function cpuMs(pid) {
  if (!pid) return null;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

// Server and client CPU over a stretch of wall time, in % of one core.
function cpuMeter(serverPid) {
  const s0 = cpuMs(serverPid);
  const c0 = process.cpuUsage();
  const t0 = now();
  return () => {
    const wall = now() - t0;
    const c = process.cpuUsage(c0);
    const pct = (ms) => Math.round((ms / wall) * 100);
    return { serverCpuPct: s0 === null ? null : pct(cpuMs(serverPid) - s0), clientCpuPct: pct((c.user + c.system) / 1000) };
  };
}

function vmRssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

// ---------------------------------------------------------------- idle child

// A child holds its share of the idle sockets. It talks to the parent over IPC:
// parent → {cmd:'open', from, count, ...}, {cmd:'close'}; child → {type:'opened'|'progress'|'closed', ...}.
if (args.child) {
  runChild();
} else if (args.report) {
  report([args.report, ...args._].filter((x) => typeof x === 'string'));
} else {
  main().catch((e) => fail(e.stack || String(e)));
}

function runChild() {
  let sockets = [];
  let closedByServer = 0;
  const closeCodes = {};
  const errors = [];
  // Never outlive the parent.
  process.on('disconnect', () => process.exit(0));

  process.on('message', async (m) => {
    if (m.cmd === 'open') {
      const t0 = now();
      let opened = 0;
      let failed = 0;
      let next = 0;
      const one = (i) => new Promise((resolve) => {
        const ws = new WebSocket(`${m.wsBase}/app/${m.key}?protocol=7&client=js&version=8.4.0&flash=false`, {
          perMessageDeflate: false,
          handshakeTimeout: m.timeoutMs,
        });
        const channel = `${m.channelPrefix}${i % m.channels}`;
        let ready = false;
        const timer = setTimeout(() => { if (!ready) { record(`socket ${i}: no subscription within ${m.timeoutMs} ms`); ws.terminate(); } }, m.timeoutMs);
        const done = (ok) => { clearTimeout(timer); if (ok) opened++; else failed++; resolve(); };
        const record = (e) => { if (errors.length < 10) errors.push(e); };
        ws.on('message', (buf) => {
          let f;
          try { f = JSON.parse(buf.toString()); } catch { record(`socket ${i}: not JSON`); return; }
          switch (f.event) {
            case 'pusher:connection_established':
              ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
              break;
            case 'pusher_internal:subscription_succeeded':
              if (!ready) { ready = true; sockets.push(ws); done(true); }
              break;
            case 'pusher:ping':
              ws.send('{"event":"pusher:pong","data":{}}');
              break;
            case 'pusher:error':
            case 'pusher:subscription_error':
              record(`socket ${i}: ${f.event} ${typeof f.data === 'string' ? f.data : JSON.stringify(f.data)}`);
              break;
            default:
              break;
          }
        });
        ws.on('unexpected-response', (_req, res) => {
          record(`socket ${i}: HTTP ${res.statusCode} on upgrade`);
          ws.terminate();
        });
        ws.on('error', (e) => record(`socket ${i}: ${e.code || e.message}`));
        ws.on('close', (code) => {
          if (!ready) { done(false); return; }
          if (!ws.closingOnPurpose) { closedByServer++; closeCodes[code] = (closeCodes[code] || 0) + 1; }
        });
      });
      let lastReport = now();
      const worker = async () => {
        while (next < m.count) {
          const i = m.from + next++;
          await one(i);
          if (now() - lastReport > 1000) { lastReport = now(); process.send({ type: 'progress', opened, failed }); }
        }
      };
      await Promise.all(Array.from({ length: Math.min(m.concurrency, m.count) }, worker));
      process.send({ type: 'opened', opened, failed, ms: now() - t0, errors });
    } else if (m.cmd === 'status') {
      process.send({ type: 'status', open: sockets.filter((w) => w.readyState === WebSocket.OPEN).length, closedByServer, closeCodes });
    } else if (m.cmd === 'close') {
      const open = sockets.filter((w) => w.readyState === WebSocket.OPEN).length;
      for (const ws of sockets) { ws.closingOnPurpose = true; ws.close(1000); }
      // Give the closes a moment to go out, then report and leave.
      await sleep(500);
      for (const ws of sockets) ws.terminate();
      sockets = [];
      process.send({ type: 'closed', openAtClose: open, closedByServer, closeCodes, errors });
      setTimeout(() => process.exit(0), 100);
    }
  });
  process.send({ type: 'hello' });
}

// ---------------------------------------------------------------- main

async function main() {
  const cfg = {
    label: opt('label', 'BENCH_LABEL', 'server'),
    host: opt('host', 'BENCH_HOST', '127.0.0.1'),
    port: num('port', 'BENCH_PORT', 0),
    key: opt('key', 'BENCH_KEY', ''),
    secret: opt('secret', 'BENCH_SECRET', ''),
    appId: String(opt('app-id', 'BENCH_APP_ID', '')),
    serverPid: num('server-pid', 'BENCH_SERVER_PID', 0),
    scenarios: String(opt('scenarios', 'BENCH_SCENARIOS', 'sequential,burst,idle')).split(',').map((s) => s.trim()).filter(Boolean),
    channel: opt('channel', 'BENCH_CHANNEL', 'bench-1'),
    events: num('events', 'BENCH_EVENTS', 2000),
    warmup: num('warmup', 'BENCH_WARMUP', 200),
    burstEvents: num('burst-events', 'BENCH_BURST_EVENTS', 10000),
    burstWarmup: num('burst-warmup', 'BENCH_BURST_WARMUP', 1000),
    inFlight: num('in-flight', 'BENCH_IN_FLIGHT', 20),
    sockets: num('sockets', 'BENCH_SOCKETS', 10000),
    procs: num('procs', 'BENCH_PROCS', 2),
    idleChannels: num('idle-channels', 'BENCH_IDLE_CHANNELS', 100),
    connectConcurrency: num('connect-concurrency', 'BENCH_CONNECT_CONCURRENCY', 100),
    settle: num('settle', 'BENCH_SETTLE', 5),
    closeSettle: num('close-settle', 'BENCH_CLOSE_SETTLE', 10),
    timeoutMs: num('timeout', 'BENCH_TIMEOUT', 10) * 1000,
    deadline: num('deadline', 'BENCH_DEADLINE', 600),
    out: opt('out', 'BENCH_OUT', ''),
    json: Boolean(args.json),
  };
  if (!cfg.port || !cfg.key || !cfg.secret || !cfg.appId) fail('--port, --key, --secret and --app-id are required');
  if (!LOOPBACK.has(cfg.host)) fail(`--host ${cfg.host} is not loopback; this benchmark only talks to 127.0.0.1`);
  for (const s of cfg.scenarios) if (!['sequential', 'burst', 'idle'].includes(s)) fail(`unknown scenario ${s}`);
  if (cfg.scenarios.includes('idle') && !cfg.serverPid) fail('the idle scenario needs --server-pid');
  if (cfg.procs < 1) cfg.procs = 1;

  const deadline = setTimeout(() => {
    console.error(`bench: the run took longer than --deadline ${cfg.deadline} s; giving up`);
    process.exit(3);
  }, cfg.deadline * 1000);
  deadline.unref();

  const result = {
    label: cfg.label,
    date: new Date().toISOString(),
    node: process.version,
    pusherJs: require('pusher-js/package.json').version,
    pusher: require('pusher/package.json').version,
    ws: require('ws/package.json').version,
    config: { ...cfg, secret: undefined },
    ok: true,
  };

  if (cfg.scenarios.includes('sequential') || cfg.scenarios.includes('burst')) {
    const sub = await subscriber(cfg);
    try {
      if (cfg.scenarios.includes('sequential')) result.sequential = await sequential(cfg, sub);
      if (cfg.scenarios.includes('burst')) result.burst = await burst(cfg, sub);
    } finally {
      result.subscriber = { disconnects: sub.disconnects, errors: sub.errors };
      if (sub.disconnects > 0 || sub.errors.length > 0) result.ok = false;
      sub.close();
    }
  }
  if (cfg.scenarios.includes('idle')) result.idle = await idle(cfg);

  for (const k of ['sequential', 'burst', 'idle']) if (result[k] && !result[k].ok) result.ok = false;
  if (cfg.out) writeFileSync(cfg.out, JSON.stringify(result, null, 2) + '\n');
  if (cfg.json) console.log(JSON.stringify(result));
  else console.log(table([result]));
  process.exit(result.ok ? 0 : 1);
}

// The pusher-js subscriber and the `pusher` publisher, sharing one keep-alive agent.
async function subscriber(cfg) {
  const PusherJs = require('pusher-js');
  const PusherServer = require('pusher');
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(8, cfg.inFlight * 2) });
  const publisher = new PusherServer({
    appId: cfg.appId, key: cfg.key, secret: cfg.secret,
    host: cfg.host, port: String(cfg.port), useTLS: false, agent, timeout: cfg.timeoutMs,
  });
  const client = new PusherJs(cfg.key, {
    wsHost: cfg.host, wsPort: cfg.port, forceTLS: false, enabledTransports: ['ws'],
    disableStats: true, cluster: 'mt1',
  });
  const sub = { client, publisher, agent, disconnects: 0, errors: [], onEvent: null };
  let wasConnected = false;
  let closing = false;
  client.connection.bind('state_change', ({ current }) => {
    if (current === 'connected') wasConnected = true;
    else if (wasConnected && !closing && current !== 'connected') { sub.disconnects++; log(`subscriber socket: ${current}`); }
  });
  client.connection.bind('error', (e) => {
    if (sub.errors.length < 10) sub.errors.push(JSON.stringify(e?.data ?? e?.error ?? e));
  });
  await within(cfg.timeoutMs, new Promise((resolve, reject) => {
    client.connection.bind('connected', resolve);
    client.connection.bind('failed', () => reject(new Error('pusher-js: connection failed')));
    client.connection.bind('unavailable', () => reject(new Error('pusher-js: server unavailable')));
  }), 'pusher-js connected');
  const channel = client.subscribe(cfg.channel);
  await within(cfg.timeoutMs, new Promise((resolve, reject) => {
    channel.bind('pusher:subscription_succeeded', resolve);
    channel.bind('pusher:subscription_error', (e) => reject(new Error(`subscription_error ${JSON.stringify(e)}`)));
  }), `subscribed to ${cfg.channel}`);
  channel.bind('bench-event', (data) => { if (sub.onEvent) sub.onEvent(data, now()); });
  sub.trigger = (seq) => publisher.trigger(cfg.channel, 'bench-event', { seq, pad: 'x'.repeat(64) });
  sub.close = () => { closing = true; client.disconnect(); agent.destroy(); };
  return sub;
}

function describeHttpError(e) {
  // The `pusher` library's RequestError carries the status and the body.
  if (e && e.status) return `HTTP ${e.status} ${String(e.body ?? '').slice(0, 200)}`;
  return String(e?.message ?? e);
}

// One event at a time: trigger, wait for the HTTP answer and the receipt, next.
async function sequential(cfg, sub) {
  const total = cfg.warmup + cfg.events;
  const toReceipt = [];
  const toAnswer = [];
  let waiting = null;
  const httpErrors = [];
  let timeouts = 0;
  sub.onEvent = (data, t) => { if (waiting && data.seq === waiting.seq) waiting.resolve(t); };
  log(`${cfg.label}: sequential, ${cfg.warmup} warm-up + ${cfg.events} events`);
  let t0 = 0;
  let cpu = null;
  for (let seq = 0; seq < total; seq++) {
    if (seq === cfg.warmup) { t0 = now(); cpu = cpuMeter(cfg.serverPid); }
    const received = new Promise((resolve) => { waiting = { seq, resolve }; });
    const start = now();
    let answeredAt = 0;
    const answered = sub.trigger(seq).then(() => { answeredAt = now(); }, (e) => {
      answeredAt = now();
      if (httpErrors.length < 10) httpErrors.push(describeHttpError(e));
      else httpErrors.push(null);
      throw e;
    });
    try {
      const [receivedAt] = await within(cfg.timeoutMs, Promise.all([received, answered]), `event ${seq}`);
      if (seq >= cfg.warmup) { toReceipt.push(receivedAt - start); toAnswer.push(answeredAt - start); }
    } catch (e) {
      if (String(e.message).startsWith('timed out')) timeouts++;
      if (httpErrors.length + timeouts > 20) break; // the server refuses: stop early
    }
  }
  const elapsed = now() - t0;
  const cpuUse = cpu ? cpu() : {};
  sub.onEvent = null;
  const r = {
    events: cfg.events,
    ...cpuUse,
    completed: toReceipt.length,
    seconds: Math.round(elapsed) / 1000,
    eventsPerSec: Math.round((toReceipt.length / elapsed) * 1000),
    triggerToReceiptMs: stats(toReceipt),
    triggerToAnswerMs: stats(toAnswer),
    httpErrors: httpErrors.length, httpErrorSamples: httpErrors.filter(Boolean), timeouts,
  };
  r.ok = r.completed === cfg.events && r.httpErrors === 0;
  log(`${cfg.label}: sequential ${r.eventsPerSec} ev/s, p50 ${r.triggerToReceiptMs?.p50} ms, p99 ${r.triggerToReceiptMs?.p99} ms`);
  return r;
}

// C triggers outstanding at all times; counts receipts.
async function burst(cfg, sub) {
  const runOnce = async (count, base, measured) => {
    const sentAt = new Float64Array(count);
    const seen = new Uint8Array(count);
    const latency = [];
    let received = 0;
    let duplicates = 0;
    let foreign = 0;
    let lastReceipt = 0;
    let allIn;
    const allReceived = new Promise((r) => { allIn = r; });
    sub.onEvent = (data, t) => {
      const i = data.seq - base;
      if (!(i >= 0 && i < count)) { foreign++; return; }
      if (seen[i]) { duplicates++; return; }
      seen[i] = 1; received++; lastReceipt = t;
      latency.push(t - sentAt[i]);
      if (received === count) allIn();
    };
    const httpErrors = [];
    let answered = 0;
    let next = 0;
    let stop = false;
    const cpu = cpuMeter(cfg.serverPid);
    const t0 = now();
    const worker = async () => {
      while (!stop && next < count) {
        const i = next++;
        sentAt[i] = now();
        try {
          await sub.trigger(base + i);
          answered++;
        } catch (e) {
          httpErrors.push(describeHttpError(e));
          if (httpErrors.length > 50) stop = true;
        }
      }
    };
    await within(cfg.deadline * 1000, Promise.all(Array.from({ length: Math.min(cfg.inFlight, count) }, worker)), 'burst triggers');
    const triggeredAt = now();
    // The last receipts: until all are in, or --timeout after the last answer.
    const expected = answered;
    if (received < expected) {
      await Promise.race([allReceived, sleep(cfg.timeoutMs)]);
    }
    const cpuUse = cpu();
    sub.onEvent = null;
    const elapsed = (received > 0 ? lastReceipt : now()) - t0;
    const r = {
      events: count, inFlight: cfg.inFlight, answered, received, ...cpuUse,
      missing: expected - received, duplicates, foreign,
      seconds: Math.round(elapsed) / 1000,
      receivedPerSec: Math.round((received / elapsed) * 1000),
      answeredPerSec: Math.round((answered / (triggeredAt - t0)) * 1000),
      triggerToReceiptMs: stats(latency),
      httpErrors: httpErrors.length, httpErrorSamples: [...new Set(httpErrors)].slice(0, 5),
    };
    r.ok = r.received === count && r.duplicates === 0 && r.httpErrors === 0;
    if (measured) log(`${cfg.label}: burst ${r.receivedPerSec} ev/s received (${r.answeredPerSec} answered/s), p50 ${r.triggerToReceiptMs?.p50} ms, p99 ${r.triggerToReceiptMs?.p99} ms, missing ${r.missing}`);
    return r;
  };
  log(`${cfg.label}: burst, ${cfg.burstWarmup} warm-up + ${cfg.burstEvents} events, ${cfg.inFlight} in flight`);
  // Sequence numbers well above the sequential run's, so a late event cannot be miscounted.
  if (cfg.burstWarmup > 0) await runOnce(cfg.burstWarmup, 1_000_000, false);
  await sleep(500);
  return runOnce(cfg.burstEvents, 2_000_000, true);
}

// K idle subscribed sockets over P child processes; the server's RSS before and after.
async function idle(cfg) {
  const K = cfg.sockets;
  const P = Math.min(cfg.procs, Math.max(1, K));
  log(`${cfg.label}: idle, ${K} sockets over ${P} processes, server pid ${cfg.serverPid}`);
  const children = [];
  for (let c = 0; c < P; c++) {
    const child = fork(SELF, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const inbox = [];
    const waiters = [];
    child.on('message', (m) => {
      const w = waiters.findIndex((x) => x.type === m.type);
      if (w >= 0) waiters.splice(w, 1)[0].resolve(m); else inbox.push(m);
      if (m.type === 'progress') child.progress = m;
    });
    child.on('exit', () => { child.exited = true; });
    child.next = (type, ms) => {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
      return within(ms, new Promise((resolve) => waiters.push({ type, resolve })), `child ${c}: ${type}`);
    };
    children.push(child);
  }
  const killAll = () => { for (const ch of children) if (!ch.exited) ch.kill('SIGKILL'); };
  process.on('exit', killAll);
  try {
    await Promise.all(children.map((ch) => ch.next('hello', cfg.timeoutMs)));
    // Let the server settle after the previous scenario (or its start), then read its RSS.
    await sleep(1000);
    const before = vmRssBytes(cfg.serverPid);
    const wsBase = `ws://${cfg.host.includes(':') && !cfg.host.startsWith('[') ? `[${cfg.host}]` : cfg.host}:${cfg.port}`;
    const share = Math.floor(K / P);
    const t0 = now();
    const progress = setInterval(() => {
      const o = children.reduce((a, ch) => a + (ch.progress?.opened ?? 0), 0);
      log(`${cfg.label}: ${o} sockets subscribed`);
    }, 2000);
    let opened;
    try {
      opened = await Promise.all(children.map((ch, c) => {
        const count = c === P - 1 ? K - share * (P - 1) : share;
        ch.send({
          cmd: 'open', from: c * share, count, wsBase, key: cfg.key, channels: Math.max(1, cfg.idleChannels),
          channelPrefix: 'bench-idle-', concurrency: Math.max(1, Math.floor(cfg.connectConcurrency / P)), timeoutMs: cfg.timeoutMs,
        });
        // Generous: a connect rate of at least 50/s.
        return ch.next('opened', cfg.timeoutMs + (count / 50) * 1000);
      }));
    } finally {
      clearInterval(progress);
    }
    const connectMs = now() - t0;
    const ok = opened.reduce((a, m) => a + m.opened, 0);
    const failed = opened.reduce((a, m) => a + m.failed, 0);
    const errors = opened.flatMap((m) => m.errors).slice(0, 10);
    log(`${cfg.label}: ${ok} subscribed, ${failed} failed in ${(connectMs / 1000).toFixed(1)} s; settling ${cfg.settle} s`);
    await sleep(cfg.settle * 1000);
    // The highest of a few readings a second apart (a GC may run in between).
    const samples = [];
    for (let i = 0; i < 3; i++) { samples.push(vmRssBytes(cfg.serverPid)); if (i < 2) await sleep(1000); }
    const after = Math.max(...samples);
    const status = await Promise.all(children.map((ch) => { ch.send({ cmd: 'status' }); return ch.next('status', cfg.timeoutMs); }));
    const stillOpen = status.reduce((a, m) => a + m.open, 0);
    const closedByServer = status.reduce((a, m) => a + m.closedByServer, 0);
    const closeCodes = {};
    for (const m of status) for (const [k, v] of Object.entries(m.closeCodes)) closeCodes[k] = (closeCodes[k] || 0) + v;
    await Promise.all(children.map((ch) => { ch.send({ cmd: 'close' }); return ch.next('closed', cfg.timeoutMs); }));
    // What the server gives back: readings a second apart for --close-settle s after the closes.
    const closeSamples = [];
    for (let i = 0; i < Math.max(1, cfg.closeSettle); i++) { await sleep(1000); closeSamples.push(vmRssBytes(cfg.serverPid)); }
    const afterClose = closeSamples[closeSamples.length - 1];
    const r = {
      sockets: K, procs: P, channels: cfg.idleChannels, subscribed: ok, failed, stillOpen, closedByServer, closeCodes,
      connectSeconds: Math.round(connectMs) / 1000,
      connectsPerSec: Math.round((ok / connectMs) * 1000),
      rssBeforeBytes: before, rssAfterBytes: after, rssAfterSamples: samples, rssAfterCloseBytes: afterClose, rssAfterCloseSamples: closeSamples,
      bytesPerSocket: ok > 0 ? Math.round((after - before) / ok) : null,
      errorSamples: errors,
    };
    r.ok = ok === K && stillOpen === K && closedByServer === 0;
    log(`${cfg.label}: RSS ${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB, ${r.bytesPerSocket} B per socket; ${(afterClose / 2 ** 20).toFixed(1)} MiB after closing`);
    return r;
  } finally {
    for (const ch of children) if (!ch.exited) ch.disconnect?.();
    await sleep(200);
    killAll();
  }
}

// ---------------------------------------------------------------- reporting

function table(results) {
  const f = (x, d = 0) => (x === null || x === undefined ? '—' : Number(x).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
  const ms = (x) => (x === null || x === undefined ? '—' : (x >= 10 ? f(x, 1) : f(x, 2)));
  const rows = [
    ['sequential: events/s', (r) => f(r.sequential?.eventsPerSec)],
    ['sequential: trigger → receipt p50 / p99 ms', (r) => r.sequential ? `${ms(r.sequential.triggerToReceiptMs?.p50)} / ${ms(r.sequential.triggerToReceiptMs?.p99)}` : '—'],
    ['sequential: trigger → HTTP answer p50 / p99 ms', (r) => r.sequential ? `${ms(r.sequential.triggerToAnswerMs?.p50)} / ${ms(r.sequential.triggerToAnswerMs?.p99)}` : '—'],
    ['sequential: CPU, server / client (% of a core)', (r) => r.sequential?.serverCpuPct != null ? `${r.sequential.serverCpuPct} / ${r.sequential.clientCpuPct}` : '—'],
    ['burst: received events/s', (r) => r.burst ? `${f(r.burst.receivedPerSec)} (${r.burst.inFlight} in flight)` : '—'],
    ['burst: trigger → receipt p50 / p99 ms', (r) => r.burst ? `${ms(r.burst.triggerToReceiptMs?.p50)} / ${ms(r.burst.triggerToReceiptMs?.p99)}` : '—'],
    ['burst: CPU, server / client (% of a core)', (r) => r.burst?.serverCpuPct != null ? `${r.burst.serverCpuPct} / ${r.burst.clientCpuPct}` : '—'],
    ['burst: missing / duplicates / HTTP errors', (r) => r.burst ? `${r.burst.missing} / ${r.burst.duplicates} / ${r.burst.httpErrors}` : '—'],
    ['idle: sockets subscribed (connects/s)', (r) => r.idle ? `${f(r.idle.subscribed)} (${f(r.idle.connectsPerSec)}/s)` : '—'],
    ['idle: server RSS before → after, MiB', (r) => r.idle ? `${f(r.idle.rssBeforeBytes / 2 ** 20, 1)} → ${f(r.idle.rssAfterBytes / 2 ** 20, 1)}` : '—'],
    ['idle: bytes per socket', (r) => f(r.idle?.bytesPerSocket)],
    ['idle: RSS after closing them (+s), MiB', (r) => r.idle ? `${f(r.idle.rssAfterCloseBytes / 2 ** 20, 1)} (+${r.config.closeSettle} s)` : '—'],
    ['all checks', (r) => (r.ok ? 'ok' : 'FAILED')],
  ];
  const header = ['measure', ...results.map((r) => r.label)];
  // Rows no result has a figure for (a scenario not run) are left out.
  const body = rows.map(([name, get]) => [name, ...results.map(get)]).filter((row) => row.slice(1).some((c) => c !== '—'));
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((row) => String(row[i]).length)));
  const line = (row) => '| ' + row.map((c, i) => String(c).padEnd(widths[i])).join(' | ') + ' |';
  return [line(header), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...body.map(line)].join('\n');
}

// Merges result files of the same label (e.g. a run of sequential+burst and a fresh process's
// idle run) and prints them side by side.
function report(files) {
  if (files.length === 0) fail('--report needs result files');
  const byLabel = new Map();
  for (const file of files) {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    const prev = byLabel.get(r.label);
    if (!prev) byLabel.set(r.label, r);
    else byLabel.set(r.label, { ...prev, ...Object.fromEntries(Object.entries(r).filter(([k]) => ['sequential', 'burst', 'idle'].includes(k))), ok: prev.ok && r.ok });
  }
  console.log(table([...byLabel.values()]));
}
