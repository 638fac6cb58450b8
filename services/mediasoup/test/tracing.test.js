// @ts-check
'use strict';

// Spans of the controller's requests (OpenTelemetry JS SDK), exported as OTLP/HTTP JSON to a
// receiver of the test's own.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { once } = require('node:events');
const { createTracer, parseTraceparent, tracesUrl } = require('../lib/tracing');
const { startService, Controller } = require('../testing/harness');

/** A collector stand-in: POST /v1/traces (JSON) → its spans, with the resource's service name. */
async function startReceiver() {
  const spans = [];
  const listeners = new Set();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      assert.equal(req.url, '/v1/traces');
      assert.equal(req.headers['content-type'], 'application/json');
      for (const rs of JSON.parse(body).resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name').value.stringValue;
        for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ service, ...span });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      for (const listener of listeners) listener();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const waitFor = (predicate, ms, what) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = spans.find(predicate);
        if (hit) {
          clearTimeout(timer);
          listeners.delete(check);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => (listeners.delete(check), reject(new Error(`no span: ${what}`))), ms);
      listeners.add(check);
      check();
    });
  return { url: `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`, spans, waitFor, close: () => server.close() };
}

test('traceparent parsing and the export endpoint', () => {
  assert.deepEqual(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' });
  for (const bad of [undefined, 'x', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01']) {
    assert.equal(parseTraceparent(bad), null, String(bad));
  }
  assert.equal(tracesUrl({}), null);
  assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' }), 'http://c:4318/v1/traces');
  assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:1/x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://d' }), 'http://c:1/x');
  assert.equal(tracesUrl({ MEDIASOUP_OTLP_ENDPOINT: 'http://own:4318/v1/traces', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://d' }), 'http://own:4318/v1/traces');
  assert.equal(tracesUrl({ MEDIASOUP_TRACE_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://d' }), null);
});

test('a request of a call becomes a SERVER span under its traceparent', async (t) => {
  const receiver = await startReceiver();
  const service = await startService({ workers: 1, env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } });
  const controller = await Controller.connect(service);
  t.after(() => receiver.close());
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parent = '00f067aa0ba902b7';
  const traceparent = `00-${traceId}-${parent}-01`;

  await controller.request('session.open', { call_id: 'tr-1', trace_id: traceId }, { traceparent });
  const opened = await receiver.waitFor((s) => s.name === 'session.open', 3000, 'session.open');
  assert.equal(opened.service, 'mediasoup');
  assert.equal(opened.traceId, traceId);
  assert.equal(opened.parentSpanId, parent);
  assert.equal(opened.kind, 2);
  assert.match(opened.spanId, /^[0-9a-f]{16}$/);
  assert.ok(BigInt(opened.endTimeUnixNano) >= BigInt(opened.startTimeUnixNano));
  assert.ok(Math.abs(Number(BigInt(opened.startTimeUnixNano) / 1000000n) - Date.now()) < 60000, 'epoch time');
  assert.deepEqual(opened.attributes.find((a) => a.key === 'call.id').value, { stringValue: 'tr-1' });
  // The request's log line names the span, so a log line leads to it.
  await service.waitForLog((e) => e.msg === 'request done' && e.method === 'session.open' && e.span_id === opened.spanId, 2000, 'the request line with span_id');

  await assert.rejects(controller.request('router.getRtpCapabilities', { call_id: 'ghost' }, { traceparent }), { code: 'not_found' });
  const failed = await receiver.waitFor((s) => s.name === 'router.getRtpCapabilities', 3000, 'the failed request');
  assert.equal(failed.status.code, 2);

  // Without a traceparent: no span (nothing outside a call). The last spans leave on SIGTERM.
  await controller.request('stats', {}, { traceparent: 'none' });
  await controller.request('session.close', { call_id: 'tr-1' }, { traceparent });
  await controller.close();
  assert.equal(await service.stop(), 0);
  await receiver.waitFor((s) => s.name === 'session.close', 3000, 'session.close, flushed at shutdown');
  assert.ok(!receiver.spans.some((s) => s.name === 'stats'));
});

test('a collector that is down costs one warning and no failed flush', async () => {
  // A port that was just free: nothing listens there.
  const probe = http.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = /** @type {import('node:net').AddressInfo} */ (probe.address());
  await new Promise((resolve) => probe.close(resolve));
  const warnings = [];
  const logger = { warn: (fields) => warnings.push(fields) };
  const tracer = createTracer({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }, logger });
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  for (let round = 0; round < 3; round += 1) {
    tracer.startSpan('session.open', { traceparent }).end();
    await tracer.flush();
  }
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].event, 'span_export_failed');
  assert.equal(warnings[0].failures, 1);
  assert.equal(warnings[0].url, `http://127.0.0.1:${port}/v1/traces`);
});
