// @ts-check
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const { WebSocketServer, WebSocket } = require('ws');
const { methods } = require('./methods');
const { ErrorCode, ServiceError } = require('./errors');
const { renderMetrics } = require('./metrics');
const { traceIdOf } = require('./logger');
const { compileRequestValidator, loadRequestSchema, protocolVersionOf } = require('./validation');

const MAX_MESSAGE_BYTES = 1024 * 1024;

function secretMatches(header, secret) {
  const expected = Buffer.from(`Bearer ${secret}`);
  const given = Buffer.from(header || '');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

/**
 * Thin signalling: HTTP (/healthz, /metrics) and the controller's WebSocket on one port.
 * Requests go to the method table; registry and pool events go out as notifications to every
 * connected controller. Sessions outlive a controller connection (it may reconnect).
 */
class Server {
  constructor({ config, pool, registry, logger, tracer = null, requestSchema = loadRequestSchema() }) {
    this.config = config;
    this.tracer = tracer; // lib/tracing.js: a SERVER span per request of a call, or null (off)
    this.pool = pool;
    this.registry = registry;
    this.logger = logger.child({ component: 'Server' });
    this.clients = new Set();
    this.counters = { requests: 0, requestErrors: 0, bargeIns: 0, sessionsFailed: 0 };
    this.validateRequest = compileRequestValidator(requestSchema);
    this.ctx = { registry, pool, config, protocolVersion: protocolVersionOf(requestSchema), controllers: () => this.clients.size };

    this.http = http.createServer((req, res) => this.#onHttp(req, res));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
    this.http.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head));

    registry.on('bargein', ({ callId, volume, atMs }) => {
      this.counters.bargeIns += 1;
      this.notify('barge_in_detected', { call_id: callId, volume, at_ms: atMs });
    });
    registry.on('failed', ({ callId, reason }) => {
      this.counters.sessionsFailed += 1;
      this.notify('session_failed', { call_id: callId, reason });
    });
    pool.on('replaced', ({ pid, replacementPid }) => {
      this.notify('worker_died', { pid, replacement_pid: replacementPid });
    });
  }

  /** Listens; resolves with the bound port (useful when configured with port 0). */
  listen() {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.config.server.port, this.config.server.host, () => {
        this.http.off('error', reject);
        resolve(/** @type {import('node:net').AddressInfo} */ (this.http.address()).port);
      });
    });
  }

  notify(name, data) {
    const frame = JSON.stringify({ notification: name, data });
    let sent = 0;
    for (const ws of this.clients) {
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(frame);
        sent += 1;
      }
    }
    if (sent === 0) this.logger.warn({ notification: name, data }, 'no controller connected: notification dropped');
  }

  async close() {
    for (const ws of this.clients) ws.close(1001, 'service stopping');
    this.wss.close();
    await new Promise((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections?.();
    });
  }

  #onHttp(req, res) {
    const url = (req.url || '/').split('?')[0];
    if (req.method === 'GET' && url === '/healthz') {
      const healthy = this.pool.healthy();
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: healthy ? 'ok' : 'degraded', workers: this.pool.describe() }));
      return;
    }
    if (req.method === 'GET' && url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(renderMetrics({ pool: this.pool, registry: this.registry, controllers: this.clients.size, counters: this.counters }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not found' }));
  }

  #onUpgrade(req, socket, head) {
    if (!secretMatches(req.headers.authorization, this.config.server.secret)) {
      this.logger.warn({ event: 'auth_refused', remote: req.socket.remoteAddress }, 'controller refused: bad or missing secret');
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, req));
  }

  #onConnection(ws, req) {
    this.clients.add(ws);
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    this.logger.info({ event: 'controller_connected', remote, controllers: this.clients.size }, 'controller connected');
    ws.on('message', (raw, isBinary) => this.#onMessage(ws, raw, isBinary));
    ws.on('error', (error) => this.logger.warn({ err: error, remote }, 'controller socket error'));
    ws.on('close', () => {
      this.clients.delete(ws);
      this.logger.warn(
        { event: 'controller_disconnected', remote, sessions_kept: this.registry.sessions.size },
        'controller disconnected; sessions are kept for a reconnect',
      );
    });
  }

  async #onMessage(ws, raw, isBinary) {
    let request;
    try {
      if (isBinary) throw new Error('binary frame');
      request = JSON.parse(raw.toString('utf8'));
    } catch {
      this.#reply(ws, { id: null, ok: false, error: { code: ErrorCode.INVALID_PARAMS, message: 'frames must be JSON text' } });
      return;
    }
    // Without an id and a method there is nothing to answer to or to trace; everything else about
    // the request is checked against the schema below.
    const { id, method } = request ?? {};
    if (!Number.isInteger(id) || typeof method !== 'string') {
      this.#reply(ws, { id: Number.isInteger(id) ? id : null, ok: false, error: { code: ErrorCode.INVALID_PARAMS, message: 'request needs an integer id and a string method' } });
      return;
    }

    this.counters.requests += 1;
    const started = process.hrtime.bigint();
    const traceparent = request.trace?.traceparent;
    const callId = typeof request.params?.call_id === 'string' ? request.params.call_id : null;
    const traceId = traceIdOf(traceparent) ?? (callId ? this.registry.sessions.get(callId)?.traceId : null) ?? null;
    const span = this.tracer?.startSpan(method, {
      traceparent,
      attributes: { 'rpc.system': 'voicebot-mediasoup', 'rpc.method': method, 'call.id': callId, request_id: id },
    });
    const logFields = { request_id: id, method, call_id: callId, trace_id: traceId, span_id: span?.spanId, traceparent };
    const handler = Object.hasOwn(methods, method) ? methods[method] : undefined;
    try {
      if (!handler) throw new ServiceError(ErrorCode.UNKNOWN_METHOD, `unknown method ${method}`);
      const { params } = this.validateRequest(request);
      const data = await handler(this.ctx, params);
      this.#reply(ws, { id, ok: true, data });
      this.logger.debug({ ...logFields, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'request done');
    } catch (error) {
      this.counters.requestErrors += 1;
      const known = error instanceof ServiceError;
      const code = known ? error.code : ErrorCode.INTERNAL;
      (known ? this.logger.info : this.logger.error).call(this.logger, { ...logFields, code, err: known ? undefined : error }, `request failed: ${error.message}`);
      this.#reply(ws, { id, ok: false, error: { code, message: error.message } });
      span?.setAttribute('error.code', code);
      span?.setError(error.message);
    } finally {
      span?.end();
    }
  }

  #reply(ws, message) {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }
}

module.exports = { Server };
