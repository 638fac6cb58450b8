// @ts-check
'use strict';

const os = require('node:os');

/**
 * The service's settings, read once from the environment (`MEDIASOUP_*`, `LOG_LEVEL`), in one
 * section per concern. The variables are listed in services/mediasoup/README.md.
 *
 * @typedef {{ host: string, port: number, secret: string }} ServerSettings
 *   the controller's WebSocket and the HTTP endpoints, on one port (0: any free port)
 * @typedef {{ count: number, bin: string | undefined }} WorkerSettings
 *   mediasoup worker processes (default: one per core) and their binary
 * @typedef {{ listenIp: string, announcedAddress: string | undefined, portRange: { min: number, max: number } | undefined }} RtcSettings
 *   transports' defaults; portRange undefined: each transport takes any free port
 * @typedef {{ level: string }} LogSettings
 * @typedef {{ server: ServerSettings, workers: WorkerSettings, rtc: RtcSettings, log: LogSettings }} Settings
 */

/**
 * @param {NodeJS.ProcessEnv} env @param {string} name @param {number | undefined} fallback
 * @param {{ min?: number, max?: number }} [range]
 * @returns {number | undefined}
 */
function intFromEnv(env, name, fallback, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** @param {NodeJS.ProcessEnv} env @returns {RtcSettings['portRange']} */
function portRangeFromEnv(env) {
  const min = intFromEnv(env, 'MEDIASOUP_RTC_MIN_PORT', undefined, { min: 1, max: 65535 });
  const max = intFromEnv(env, 'MEDIASOUP_RTC_MAX_PORT', undefined, { min: 1, max: 65535 });
  if (min === undefined && max === undefined) return undefined;
  if (min === undefined || max === undefined) throw new Error('MEDIASOUP_RTC_MIN_PORT and MEDIASOUP_RTC_MAX_PORT go together');
  if (min > max) throw new Error('MEDIASOUP_RTC_MIN_PORT must not exceed MEDIASOUP_RTC_MAX_PORT');
  return Object.freeze({ min, max });
}

const MIN_SECRET_CHARS = 32;
const PLACEHOLDER_WORDS = ['change-me', 'changeme', 'replace', 'secret', 'example', 'placeholder', 'dev-secret'];

/**
 * A shared secret must be random: refuse a missing, short or placeholder one (docs/security.md).
 * @param {string} name @param {string | undefined} secret @returns {string}
 */
function strongSecret(name, secret) {
  if (!secret) throw new Error(`${name} is required`);
  const lowered = secret.toLowerCase();
  if (secret.length < MIN_SECRET_CHARS) {
    throw new Error(`${name} must be at least ${MIN_SECRET_CHARS} characters (e.g. openssl rand -hex 32)`);
  }
  if (PLACEHOLDER_WORDS.some((word) => lowered.includes(word)) || new Set(secret).size < 8) {
    throw new Error(`${name} looks like a placeholder: use a random value (openssl rand -hex 32)`);
  }
  return secret;
}

/**
 * The router's media codecs (docs/internal-protocol.md): Opus for WebRTC-style gateways, G.711
 * (PCMU, PCMA) for SIP trunks, and RFC 4733 telephone-event at 8 kHz for DTMF. mediasoup never
 * transcodes: a consumer receives its producer's codec, so the bot's producer is created in the
 * call's codec. The payload types are the static ones (0, 8) and the project's fixed dynamic ones.
 */
const ROUTER_MEDIA_CODECS = Object.freeze([
  Object.freeze({ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100 }),
  Object.freeze({ kind: 'audio', mimeType: 'audio/PCMU', clockRate: 8000, preferredPayloadType: 0 }),
  Object.freeze({ kind: 'audio', mimeType: 'audio/PCMA', clockRate: 8000, preferredPayloadType: 8 }),
  Object.freeze({ kind: 'audio', mimeType: 'audio/telephone-event', clockRate: 8000, preferredPayloadType: 101 }),
]);

/**
 * Reads the settings from the environment; throws with a clear message if invalid.
 * @param {NodeJS.ProcessEnv} env
 * @returns {Readonly<Settings>}
 */
function loadConfig(env = process.env) {
  const secret = strongSecret('MEDIASOUP_SERVICE_SECRET', env.MEDIASOUP_SERVICE_SECRET);
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;

  return Object.freeze({
    server: Object.freeze({
      host: env.MEDIASOUP_SERVICE_HOST || '127.0.0.1',
      port: /** @type {number} */ (intFromEnv(env, 'MEDIASOUP_SERVICE_PORT', 0, { max: 65535 })),
      secret,
    }),
    workers: Object.freeze({
      count: /** @type {number} */ (intFromEnv(env, 'MEDIASOUP_WORKERS', cores, { min: 1, max: 256 })),
      bin: env.MEDIASOUP_WORKER_BIN || undefined,
    }),
    rtc: Object.freeze({
      listenIp: env.MEDIASOUP_LISTEN_IP || '127.0.0.1',
      announcedAddress: env.MEDIASOUP_ANNOUNCED_IP || undefined,
      portRange: portRangeFromEnv(env),
    }),
    log: Object.freeze({ level: (env.LOG_LEVEL || 'info').toLowerCase() }),
  });
}

module.exports = { loadConfig, strongSecret, ROUTER_MEDIA_CODECS };
