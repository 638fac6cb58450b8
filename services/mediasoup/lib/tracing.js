'use strict';

// Spans of the requests the controller sends, exported as OTLP/HTTP JSON (the OTLP spec's JSON
// encoding: ids in hex) to the same collector as the Python services. No OpenTelemetry JS: its
// current exporters need Node >= 22 and a dozen packages for what is ~100 lines here.
// A span is only made for a request whose `trace.traceparent` is valid: nothing outside a call.
const crypto = require('node:crypto');
const http = require('node:http');
const https = require('node:https');

const SpanKind = Object.freeze({ INTERNAL: 1, SERVER: 2, CLIENT: 3 });
const StatusCode = Object.freeze({ UNSET: 0, OK: 1, ERROR: 2 });
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const EPOCH_OFFSET_NS = BigInt(Date.now()) * 1000000n - process.hrtime.bigint();

const nowNs = () => EPOCH_OFFSET_NS + process.hrtime.bigint();

/** {traceId, spanId} of a W3C traceparent, or null. */
function parseTraceparent(value) {
  const match = TRACEPARENT.exec(String(value ?? '').trim().toLowerCase());
  if (!match || match[1] === 'ff' || /^0+$/.test(match[2]) || /^0+$/.test(match[3])) return null;
  return { traceId: match[2], spanId: match[3] };
}

function attributeValue(value) {
  if (typeof value === 'boolean') return { boolValue: value };
  if (Number.isInteger(value)) return { intValue: String(value) };
  if (typeof value === 'number') return { doubleValue: value };
  return { stringValue: String(value) };
}

const attributeList = (attributes) =>
  Object.entries(attributes)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([key, value]) => ({ key, value: attributeValue(value) }));

class Span {
  constructor(tracer, name, parent, kind, attributes) {
    this.tracer = tracer;
    this.name = name;
    this.traceId = parent.traceId;
    this.parentSpanId = parent.spanId;
    this.spanId = crypto.randomBytes(8).toString('hex');
    this.kind = kind;
    this.attributes = { ...attributes };
    this.status = { code: StatusCode.UNSET };
    this.start = nowNs();
    this.ended = false;
  }

  get traceparent() {
    return `00-${this.traceId}-${this.spanId}-01`;
  }

  setAttribute(key, value) {
    this.attributes[key] = value;
  }

  setError(message) {
    this.status = { code: StatusCode.ERROR, message: String(message) };
  }

  end() {
    if (this.ended) return;
    this.ended = true;
    this.tracer.enqueue({
      traceId: this.traceId,
      spanId: this.spanId,
      parentSpanId: this.parentSpanId,
      name: this.name,
      kind: this.kind,
      startTimeUnixNano: String(this.start),
      endTimeUnixNano: String(nowNs()),
      attributes: attributeList(this.attributes),
      status: this.status,
    });
  }
}

/** Batches ended spans and POSTs them every `delayMs` (and on flush); drops, never blocks. */
class Tracer {
  constructor({ url, service, logger, delayMs = 500, maxQueue = 2048 }) {
    this.url = new URL(url);
    this.service = service;
    this.logger = logger;
    this.delayMs = delayMs;
    this.maxQueue = maxQueue;
    this.queue = [];
    this.timer = null;
    this.dropped = 0;
    this.failures = 0;
  }

  /** A span under the request's traceparent, or null when it has none (not part of a call). */
  startSpan(name, { traceparent, kind = SpanKind.SERVER, attributes = {} } = {}) {
    const parent = parseTraceparent(traceparent);
    return parent ? new Span(this, name, parent, kind, attributes) : null;
  }

  enqueue(span) {
    if (this.queue.length >= this.maxQueue) {
      this.dropped += 1;
      return;
    }
    this.queue.push(span);
    this.timer ??= setTimeout(() => this.flush(), this.delayMs);
  }

  /** Exports what is queued; resolves when the collector answered (or failed, logged). */
  async flush() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.length === 0) return;
    const spans = this.queue.splice(0);
    const body = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: attributeList({ 'service.name': this.service }) },
          scopeSpans: [{ scope: { name: 'voicebot-mediasoup' }, spans }],
        },
      ],
    });
    try {
      const status = await this.#post(body);
      if (status >= 300) throw new Error(`HTTP ${status}`);
    } catch (error) {
      this.failures += 1;
      // Rate-limited: a missing collector must not flood the log.
      if (this.failures === 1 || this.failures % 100 === 0) {
        this.logger?.warn({ event: 'span_export_failed', url: this.url.href, spans: spans.length, failures: this.failures, err: error }, 'span export failed');
      }
    }
  }

  #post(body) {
    const client = this.url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = client.request(
        this.url,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 5000 },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });
  }
}

/**
 * Where spans go: MEDIASOUP_OTLP_ENDPOINT (a base URL or a full .../v1/traces URL), else
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as is), else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces.
 * MEDIASOUP_TRACE_EXPORTER=none turns export off. Returns null when off.
 */
function tracesUrl(env = process.env) {
  if ((env.MEDIASOUP_TRACE_EXPORTER || '').toLowerCase() === 'none') return null;
  const own = env.MEDIASOUP_OTLP_ENDPOINT;
  if (own) return own.replace(/\/+$/, '').endsWith('/v1/traces') ? own.replace(/\/+$/, '') : `${own.replace(/\/+$/, '')}/v1/traces`;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return null;
}

function createTracer({ env = process.env, service = 'mediasoup', logger } = {}) {
  const url = tracesUrl(env);
  return url ? new Tracer({ url, service, logger }) : null;
}

module.exports = { SpanKind, StatusCode, Tracer, createTracer, parseTraceparent, tracesUrl };
