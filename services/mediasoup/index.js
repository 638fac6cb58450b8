// @ts-check
'use strict';

// Entry point of the mediasoup service. See docs/internal-protocol.md for the protocol.
const fs = require('node:fs');
const path = require('node:path');
const { loadConfig } = require('./lib/config');
const { createLogger } = require('./lib/logger');
const { createTracer } = require('./lib/tracing');
const { loadRequestSchema, protocolVersionOf } = require('./lib/validation');

/** mediasoup resolves its worker binary when first required, so settle it before that. */
function resolveWorkerBin(config) {
  const bin = config.workers.bin || path.join(__dirname, 'node_modules/mediasoup/worker/out/Release/mediasoup-worker');
  if (!fs.existsSync(bin)) {
    throw new Error(`mediasoup worker binary not found at ${bin}: run scripts/build-worker.sh (or set MEDIASOUP_WORKER_BIN)`);
  }
  process.env.MEDIASOUP_WORKER_BIN = bin;
  return bin;
}

async function main() {
  let config;
  let requestSchema;
  let logger = createLogger(process.env.LOG_LEVEL || 'info');
  try {
    config = loadConfig();
    logger = createLogger(config.log.level);
    resolveWorkerBin(config);
    requestSchema = loadRequestSchema(); // docs/schema/ must ship with the service
    protocolVersionOf(requestSchema);
  } catch (error) {
    logger.fatal({ event: 'config_invalid', err: error }, error.message);
    process.exit(2);
  }

  const mediasoup = require('mediasoup');
  const { WorkerPool } = require('./lib/WorkerPool');
  const { SessionRegistry } = require('./lib/SessionRegistry');
  const { Server } = require('./lib/Server');

  const libLogger = logger.child({ component: 'mediasoup-lib' });
  mediasoup.setLogEventListeners({
    onwarn: (namespace, log) => libLogger.warn({ namespace }, log),
    onerror: (namespace, log, error) => libLogger.error({ namespace, err: error }, log),
  });

  const pool = new WorkerPool({ size: config.workers.count, logger });
  const registry = new SessionRegistry({
    pool,
    logger,
    network: config.rtc,
  });
  const tracer = createTracer(/** @type {any} */ ({ logger })); // lib/tracing.js is not type-checked yet
  const server = new Server({ config, pool, registry, logger, tracer, requestSchema });

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: 'stopping', signal, sessions: registry.sessions.size }, 'stopping');
    registry.closeAll('service stopping');
    await pool.close();
    await server.close();
    await tracer?.flush(); // the spans of the last requests
    logger.info({ event: 'stopped' }, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  try {
    await pool.start();
    const port = await server.listen();
    logger.info(
      { event: 'listening', host: config.server.host, port, workers: pool.describe().map((w) => w.pid), mediasoup_version: mediasoup.version, protocol_version: protocolVersionOf(requestSchema), traces_url: tracer?.url.href ?? null },
      'mediasoup service listening',
    );
  } catch (error) {
    logger.fatal({ event: 'start_failed', err: error }, `could not start: ${error.message}`);
    await pool.close();
    process.exit(1);
  }
}

main();
