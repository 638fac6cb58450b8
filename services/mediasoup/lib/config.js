'use strict';

const os = require('node:os');

function intFromEnv(env, name, fallback, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Reads the service configuration from the environment; throws with a clear message if invalid. */
function loadConfig(env = process.env) {
  const secret = env.MEDIASOUP_SERVICE_SECRET;
  if (!secret) throw new Error('MEDIASOUP_SERVICE_SECRET is required');

  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const rtcMinPort = intFromEnv(env, 'MEDIASOUP_RTC_MIN_PORT', undefined, { min: 1, max: 65535 });
  const rtcMaxPort = intFromEnv(env, 'MEDIASOUP_RTC_MAX_PORT', undefined, { min: 1, max: 65535 });
  if ((rtcMinPort === undefined) !== (rtcMaxPort === undefined)) {
    throw new Error('MEDIASOUP_RTC_MIN_PORT and MEDIASOUP_RTC_MAX_PORT go together');
  }
  if (rtcMinPort !== undefined && rtcMinPort > rtcMaxPort) {
    throw new Error('MEDIASOUP_RTC_MIN_PORT must not exceed MEDIASOUP_RTC_MAX_PORT');
  }

  return Object.freeze({
    host: env.MEDIASOUP_SERVICE_HOST || '127.0.0.1',
    port: intFromEnv(env, 'MEDIASOUP_SERVICE_PORT', 0, { max: 65535 }),
    secret,
    workers: intFromEnv(env, 'MEDIASOUP_WORKERS', cores, { min: 1, max: 256 }),
    // undefined: each transport takes any free port (mediasoup's default range).
    portRange: rtcMinPort === undefined ? undefined : { min: rtcMinPort, max: rtcMaxPort },
    listenIp: env.MEDIASOUP_LISTEN_IP || '127.0.0.1',
    announcedAddress: env.MEDIASOUP_ANNOUNCED_IP || undefined,
    workerBin: env.MEDIASOUP_WORKER_BIN || undefined,
    logLevel: (env.LOG_LEVEL || 'info').toLowerCase(),
  });
}

module.exports = { loadConfig };
