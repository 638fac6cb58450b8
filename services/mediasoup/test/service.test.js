// @ts-check
'use strict';

// The service's surface: auth, HTTP endpoints, request errors, session lifecycle, ownership.
const test = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const WebSocket = require('ws');
const { startService, Controller } = require('../testing/harness');
const path = require('node:path');
const { default: Ajv2020 } = require('ajv/dist/2020');
const { protocolVersionOf } = require('../lib/validation');

/** The typed answer of session.open (voicebot_protocol.media_service_methods.SessionOpened). */
function sessionOpenedValidator() {
  const ajv = new Ajv2020({ strict: false });
  return ajv.compile(require(path.join(__dirname, '../../../docs/schema/internal.media-service.session-opened.schema.json')));
}

test('mediasoup service: signalling', async (t) => {
  const service = await startService();
  const controller = await Controller.connect(service);
  t.after(async () => {
    await controller.close();
    assert.equal(await service.stop(), 0, 'SIGTERM exits 0');
  });

  await t.test('prints one JSON listening line with the port', () => {
    const lines = service.logs.filter((e) => e.event === 'listening');
    assert.equal(lines.length, 1);
    assert.equal(lines[0].service, 'mediasoup');
    assert.ok(Number.isInteger(lines[0].port) && lines[0].port > 0);
  });

  await t.test('refuses a WebSocket without the right secret with 401', async () => {
    for (const headers of [{}, { Authorization: 'Bearer wrong' }, { Authorization: service.secret }]) {
      const ws = new WebSocket(service.url, { headers });
      ws.on('error', () => {}); // terminate() below errors the never-opened socket
      const [, response] = await once(ws, 'unexpected-response');
      assert.equal(response.statusCode, 401);
      ws.terminate();
    }
  });

  await t.test('GET /healthz and /metrics', async () => {
    const health = await service.http('/healthz');
    assert.equal(health.status, 200);
    assert.equal((await health.json()).workers.length, 2);
    const metrics = await (await service.http('/metrics')).text();
    for (const name of ['mediasoup_workers 2', 'mediasoup_sessions 0', 'mediasoup_transports 0', 'mediasoup_producers 0', 'mediasoup_consumers 0', 'mediasoup_worker_deaths_total 0']) {
      assert.match(metrics, new RegExp(`^${name}$`, 'm'));
    }
  });

  await t.test('answers unknown methods, bad params and unknown sessions with their codes', async () => {
    await assert.rejects(controller.request('nope'), { code: 'unknown_method' });
    await assert.rejects(controller.request('session.open', {}), { code: 'invalid_params', message: 'invalid_params: call_id is required' });
    await assert.rejects(controller.request('transport.connectPlain', { call_id: 'ghost', transport_id: 't', ip: 'nowhere', port: 9 }), {
      code: 'invalid_params',
      message: 'invalid_params: ip must be an IPv4 or IPv6 address',
    });
    await assert.rejects(controller.request('router.getRtpCapabilities', { call_id: 'ghost' }), { code: 'not_found' });
    await assert.rejects(controller.request('stats', { call_id: 'ghost' }), { code: 'not_found' });
  });

  await t.test('session.open is idempotent and session.close leaves nothing behind', async () => {
    const opened = await controller.request('session.open', { call_id: 'call-1', trace_id: 'trace-1' });
    assert.ok(opened.router_id);
    assert.ok(Number.isInteger(opened.worker_pid));
    assert.equal(opened.protocol_version, protocolVersionOf(), 'the internal protocol version of the schema');
    const validOpened = sessionOpenedValidator();
    assert.deepEqual(validOpened(opened) ? [] : validOpened.errors, [], 'the answer matches its typed schema');
    const opus = opened.rtp_capabilities.codecs.find((c) => c.mimeType === 'audio/opus');
    assert.equal(opus.clockRate, 48000);
    assert.equal(opus.channels, 2);
    assert.equal(opus.preferredPayloadType, 100);

    const again = await controller.request('session.open', { call_id: 'call-1' });
    assert.equal(again.router_id, opened.router_id);

    const transport = await controller.request('transport.createPlain', { call_id: 'call-1', comedia: true });
    assert.equal(transport.ip, '127.0.0.1');
    assert.ok(transport.port > 0);
    const during = await controller.request('stats', { call_id: 'call-1' });
    assert.deepEqual(during.transports, [transport.transport_id]);
    await service.waitForLog((e) => e.event === 'session_opened' && e.call_id === 'call-1' && e.trace_id === 'trace-1', 1000, 'a session log line with call_id and trace_id');

    // closing an object twice is fine
    await controller.request('close', { call_id: 'call-1', kind: 'transport', id: transport.transport_id });
    await controller.request('close', { call_id: 'call-1', kind: 'transport', id: transport.transport_id });
    await assert.rejects(controller.request('close', { call_id: 'call-1', kind: 'transport', id: 'never-existed' }), { code: 'not_found' });

    await controller.request('session.close', { call_id: 'call-1' });
    await controller.request('session.close', { call_id: 'call-1' });
    const stats = await controller.request('stats');
    assert.deepEqual(stats.sessions, []);
    assert.ok(stats.workers.every((w) => w.routers === 0));
    await assert.rejects(controller.request('stats', { call_id: 'call-1' }), { code: 'not_found' });
    const metrics = await (await service.http('/metrics')).text();
    assert.match(metrics, /^mediasoup_sessions 0$/m);
    assert.match(metrics, /^mediasoup_transports 0$/m);
  });

  await t.test('a session may not name the objects of another session', async () => {
    await controller.request('session.open', { call_id: 'a' });
    await controller.request('session.open', { call_id: 'b' });
    const ta = await controller.request('transport.createPlain', { call_id: 'a', comedia: true });
    await assert.rejects(controller.request('transport.connectPlain', { call_id: 'b', transport_id: ta.transport_id, ip: '127.0.0.1', port: 9 }), { code: 'foreign_object' });
    await assert.rejects(controller.request('close', { call_id: 'b', kind: 'transport', id: ta.transport_id }), { code: 'foreign_object' });
    await assert.rejects(controller.request('produce', { call_id: 'b', transport_id: ta.transport_id, kind: 'audio', rtp_parameters: {} }), { code: 'foreign_object' });
    const sa = await controller.request('stats', { call_id: 'a' });
    assert.deepEqual(sa.transports, [ta.transport_id], 'the foreign attempt changed nothing');
    await controller.request('session.close', { call_id: 'a' });
    await controller.request('session.close', { call_id: 'b' });
  });

  await t.test('sessions survive a controller reconnect', async () => {
    const first = await Controller.connect(service);
    await first.request('session.open', { call_id: 'kept' });
    await first.close();
    const second = await Controller.connect(service);
    const stats = await second.request('stats');
    assert.deepEqual(stats.sessions.map((s) => s.call_id), ['kept']);
    await second.request('session.close', { call_id: 'kept' });
    await second.close();
  });
});
