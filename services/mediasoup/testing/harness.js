'use strict';

// Test support (outside test/, which node --test would run as tests): starts the service as a
// child process, talks to it as the controller does, and sends/receives RTP over real UDP.
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const dgram = require('node:dgram');
const fs = require('node:fs');
const path = require('node:path');
const { once } = require('node:events');
const WebSocket = require('ws');

const SERVICE_DIR = path.join(__dirname, '..');

/** The built worker: MEDIASOUP_WORKER_BIN, else the cache of scripts/build-worker.sh, else the package's path. */
function resolveWorkerBin() {
  const candidates = [];
  if (process.env.MEDIASOUP_WORKER_BIN) candidates.push(process.env.MEDIASOUP_WORKER_BIN);
  try {
    candidates.push(
      execFileSync(path.join(SERVICE_DIR, 'scripts/build-worker.sh'), ['--print-path'], { encoding: 'utf8' }).trim(),
    );
  } catch {
    // mediasoup not installed: the package path below fails too, with a clear message.
  }
  candidates.push(path.join(SERVICE_DIR, 'node_modules/mediasoup/worker/out/Release/mediasoup-worker'));
  const found = candidates.find((p) => p && fs.existsSync(p));
  if (!found) throw new Error(`no mediasoup worker binary (tried ${candidates.join(', ')}): run scripts/build-worker.sh`);
  return found;
}

/** Resolves with the first value `check` returns truthy for, or rejects after `ms`. */
function waitUntil(ms, description, subscribe) {
  return new Promise((resolve, reject) => {
    let unsubscribe = () => {};
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${ms} ms waiting for ${description}`));
    }, ms);
    unsubscribe = subscribe((value) => {
      clearTimeout(timer);
      unsubscribe();
      resolve(value);
    });
  });
}

/** Starts `node index.js` on port 0; resolves once it printed its "listening" line. */
async function startService({ env = {}, workers = 2 } = {}) {
  const secret = crypto.randomBytes(16).toString('hex');
  const child = spawn(process.execPath, ['index.js'], {
    cwd: SERVICE_DIR,
    env: {
      ...process.env,
      MEDIASOUP_WORKER_BIN: resolveWorkerBin(),
      MEDIASOUP_SERVICE_PORT: '0',
      MEDIASOUP_SERVICE_SECRET: secret,
      MEDIASOUP_WORKERS: String(workers),
      LOG_LEVEL: 'debug',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  const logListeners = new Set();
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        entry = { raw: line };
      }
      logs.push(entry);
      for (const listener of logListeners) listener(entry);
    }
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = once(child, 'exit');

  const waitForLog = (predicate, ms = 5000, description = 'a log line') =>
    waitUntil(ms, description, (done) => {
      const hit = logs.find(predicate);
      if (hit) {
        queueMicrotask(() => done(hit));
        return () => {};
      }
      const listener = (entry) => predicate(entry) && done(entry);
      logListeners.add(listener);
      return () => logListeners.delete(listener);
    });

  const listening = await Promise.race([
    waitForLog((e) => e.event === 'listening', 10000, 'the listening line'),
    exited.then(([code]) => {
      throw new Error(`service exited with ${code} before listening:\n${stderr}\n${JSON.stringify(logs)}`);
    }),
  ]);

  return {
    port: listening.port,
    secret,
    child,
    logs,
    waitForLog,
    url: `ws://127.0.0.1:${listening.port}/`,
    http: (p) => fetch(`http://127.0.0.1:${listening.port}${p}`),
    /** SIGTERM; resolves with the exit code. */
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = await exited;
      return code;
    },
  };
}

/** The controller side of the protocol. */
class Controller {
  static async connect(service, { secret = service.secret } = {}) {
    const ws = new WebSocket(service.url, { headers: { Authorization: `Bearer ${secret}` } });
    await once(ws, 'open');
    return new Controller(ws);
  }

  constructor(ws) {
    this.ws = ws;
    this.nextId = 1;
    this.pending = new Map();
    this.notifications = [];
    this.listeners = new Set();
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw.toString());
      if (msg.notification) {
        this.notifications.push(msg);
        for (const listener of this.listeners) listener(msg);
        return;
      }
      const entry = this.pending.get(msg.id);
      if (!entry) return;
      this.pending.delete(msg.id);
      if (msg.ok) entry.resolve(msg.data);
      else entry.reject(Object.assign(new Error(`${msg.error.code}: ${msg.error.message}`), { code: msg.error.code }));
    });
  }

  request(method, params = {}, { timeoutMs = 5000, traceparent = undefined } = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method} timed out`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      traceparent ??= `00-${crypto.randomBytes(16).toString('hex')}-${crypto.randomBytes(8).toString('hex')}-01`;
      this.ws.send(JSON.stringify({ id, method, params, trace: { traceparent } }));
    });
  }

  /** The first notification `name` (already received or coming) matching `predicate`. */
  waitFor(name, predicate = () => true, ms = 10000) {
    const matches = (n) => n.notification === name && predicate(n.data);
    return waitUntil(ms, `notification ${name}`, (done) => {
      const hit = this.notifications.find(matches);
      if (hit) {
        queueMicrotask(() => done(hit.data));
        return () => {};
      }
      const listener = (n) => matches(n) && done(n.data);
      this.listeners.add(listener);
      return () => this.listeners.delete(listener);
    });
  }

  async close() {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await once(this.ws, 'close');
  }
}

// --- RTP --------------------------------------------------------------------------------------

const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';
const AUDIO_LEVEL_EXT_ID = 1;
const OPUS_PT = 100;

/** rtp_parameters for `produce`, in mediasoup's own (camelCase) shape. */
function opusRtpParameters(ssrc) {
  return {
    codecs: [{ mimeType: 'audio/opus', payloadType: OPUS_PT, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }],
    headerExtensions: [{ uri: AUDIO_LEVEL_URI, id: AUDIO_LEVEL_EXT_ID }],
    encodings: [{ ssrc }],
    rtcp: { cname: 'caller', reducedSize: true },
  };
}

/**
 * A hand-made RTP packet: 12-byte header, a one-byte-header extension block (RFC 8285) with
 * ssrc-audio-level (level = -dBov, 0 loudest .. 127 silent; RFC 6464), then a fake Opus payload.
 */
function rtpPacket({ seq, timestamp, ssrc, level }) {
  const header = Buffer.alloc(12);
  header[0] = 0x90; // V=2, X=1
  header[1] = OPUS_PT;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE(timestamp >>> 0, 4);
  header.writeUInt32BE(ssrc >>> 0, 8);
  const extension = Buffer.from([0xbe, 0xde, 0x00, 0x01, (AUDIO_LEVEL_EXT_ID << 4) | 0, 0x80 | level, 0, 0]);
  const payload = Buffer.alloc(40, 0x55);
  payload[0] = 0x78; // Opus TOC: SILK-only wideband 20 ms, mono
  return Buffer.concat([header, extension, payload]);
}

/** Sends 20 ms RTP packets from a UDP socket to ip:port until stop(). */
async function startRtpSender({ ip, port, ssrc, level }) {
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let seq = 1;
  let timestamp = 1000;
  const state = { level };
  const send = () => {
    socket.send(rtpPacket({ seq: seq++, timestamp, ssrc, level: state.level }), port, ip);
    timestamp += 960;
  };
  send();
  const timer = setInterval(send, 20);
  return {
    socket,
    setLevel: (l) => (state.level = l),
    stop: () => {
      clearInterval(timer);
      socket.close();
    },
  };
}

/** A UDP socket that collects RTP packets (parsed header fields). */
async function startRtpReceiver() {
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const packets = [];
  const listeners = new Set();
  socket.on('message', (msg) => {
    if (msg.length < 12 || msg[1] >= 200) return; // RTCP (SR/RR…) share the port with rtcp-mux
    const packet = { payloadType: msg[1] & 0x7f, seq: msg.readUInt16BE(2), ssrc: msg.readUInt32BE(8), length: msg.length };
    packets.push(packet);
    for (const l of listeners) l(packet);
  });
  return {
    port: socket.address().port,
    packets,
    /** Resolves once `count` packets matched `predicate`. */
    waitForPackets(count, predicate = () => true, ms = 10000) {
      return waitUntil(ms, `${count} RTP packets`, (done) => {
        const check = () => packets.filter(predicate).length >= count && done(packets.filter(predicate));
        if (check()) return () => {};
        listeners.add(check);
        return () => listeners.delete(check);
      });
    },
    close: () => socket.close(),
  };
}

module.exports = {
  resolveWorkerBin,
  startService,
  Controller,
  waitUntil,
  opusRtpParameters,
  rtpPacket,
  startRtpSender,
  startRtpReceiver,
};
