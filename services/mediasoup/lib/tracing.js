'use strict';

// Spans of the requests the controller sends, made with the OpenTelemetry JS SDK and exported
// as OTLP/HTTP JSON to the same collector as the Python services.
// A span is only made for a request whose `trace.traceparent` is valid: nothing outside a call.
const { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } = require('@opentelemetry/api');
const { ExportResultCode, parseTraceParent } = require('@opentelemetry/core');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BatchSpanProcessor, TracerProvider } = require('@opentelemetry/sdk-trace');

const SCOPE = 'voicebot-mediasoup';
const EXPORT_DELAY_MS = 500;
const MAX_QUEUE = 2048;

/** {traceId, spanId} of a W3C traceparent, or null. */
function parseTraceparent(value) {
  const parsed = parseTraceParent(String(value ?? '').trim().toLowerCase());
  return parsed ? { traceId: parsed.traceId, spanId: parsed.spanId } : null;
}

const definedAttributes = (attributes) =>
  Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== undefined && v !== null));

/** The one span shape Server.js uses, over an OpenTelemetry span. */
function requestSpan(span) {
  const { traceId, spanId } = span.spanContext();
  return {
    traceId,
    spanId,
    traceparent: `00-${traceId}-${spanId}-01`,
    setAttribute: (key, value) => {
      if (value !== undefined && value !== null) span.setAttribute(key, value);
    },
    setError: (message) => span.setStatus({ code: SpanStatusCode.ERROR, message: String(message) }),
    end: () => span.end(),
  };
}

/** Wraps the exporter so that a missing collector is one warning (then one per 100), not a flood. */
function logFailures(exporter, url, logger) {
  let failures = 0;
  return {
    export(spans, done) {
      exporter.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) {
          failures += 1;
          if (failures === 1 || failures % 100 === 0) {
            logger?.warn({ event: 'span_export_failed', url: url.href, spans: spans.length, failures, err: result.error }, 'span export failed');
          }
        }
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}

/** Batches ended spans and exports them every 500 ms (and on flush); drops, never blocks. */
class Tracer {
  constructor({ url, service, logger, delayMs = EXPORT_DELAY_MS, maxQueue = MAX_QUEUE }) {
    this.url = new URL(url);
    const exporter = new OTLPTraceExporter({ url: this.url.href, timeoutMillis: 5000 });
    this.provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': service }),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: logFailures(exporter, this.url, logger),
          scheduledDelayMillis: delayMs,
          maxQueueSize: maxQueue,
          maxExportBatchSize: Math.min(512, maxQueue),
        }),
      ],
    });
    this.tracer = this.provider.getTracer(SCOPE);
  }

  /**
   * A span under the request's traceparent, or null when it has none (not part of a call).
   * @param {string} name
   * @param {{ traceparent?: string, kind?: number, attributes?: Record<string, unknown> }} [options]
   */
  startSpan(name, { traceparent, kind = SpanKind.SERVER, attributes = {} } = {}) {
    const parent = parseTraceparent(traceparent);
    if (!parent) return null;
    const context = trace.setSpanContext(ROOT_CONTEXT, { ...parent, traceFlags: 1, isRemote: true });
    return requestSpan(this.tracer.startSpan(name, { kind, attributes: definedAttributes(attributes) }, context));
  }

  /** Exports what is queued; resolves when the collector answered (or failed, logged). */
  async flush() {
    try {
      await this.provider.forceFlush();
    } catch {
      // Already logged by logFailures; a flush at shutdown must not fail the shutdown.
    }
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

/**
 * @param {{ env?: NodeJS.ProcessEnv, service?: string, logger?: { warn: (fields: object, message?: string) => void } }} [options]
 */
function createTracer({ env = process.env, service = 'mediasoup', logger } = {}) {
  const url = tracesUrl(env);
  return url ? new Tracer({ url, service, logger }) : null;
}

module.exports = { SpanKind, StatusCode: SpanStatusCode, Tracer, createTracer, parseTraceparent, tracesUrl };
