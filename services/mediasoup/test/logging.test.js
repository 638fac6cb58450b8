// @ts-check
'use strict';

// Log lines: JSON, each with trace_id and call_id (null outside a call); a request's lines carry
// the trace id of its traceparent, a call's lines the trace id the call was opened with.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Writable } = require('node:stream');
const { createLogger, traceIdOf } = require('../lib/logger');
const { startService, Controller } = require('../testing/harness');

test('traceIdOf reads a W3C traceparent', () => {
  assert.equal(traceIdOf('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'), '0af7651916cd43dd8448eb211c80319c');
  assert.equal(traceIdOf('00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01'), '0af7651916cd43dd8448eb211c80319c');
  for (const bad of [undefined, null, '', 'junk', '00-00000000000000000000000000000000-b7ad6b7169203331-01', '00-abc-def-01']) {
    assert.equal(traceIdOf(bad), null, String(bad));
  }
});

test('every line has trace_id and call_id, never twice', () => {
  const lines = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()) });
  const root = createLogger('info', sink);
  root.info('plain');
  root.child({ call_id: 'c1', trace_id: 't1' }).info({ x: 1 }, 'of a call');
  root.info({ call_id: 'c2', trace_id: 't2' }, 'own fields');
  const entries = lines.map((l) => JSON.parse(l));
  assert.deepEqual(entries.map((e) => [e.call_id, e.trace_id]), [[null, null], ['c1', 't1'], ['c2', 't2']]);
  for (const line of lines) {
    assert.equal(line.match(/"trace_id"/g).length, 1, line);
    assert.equal(line.match(/"call_id"/g).length, 1, line);
  }
});

test('service request lines carry the request trace id', async (t) => {
  const service = await startService({ workers: 1 });
  const controller = await Controller.connect(service);
  t.after(async () => {
    await controller.close();
    await service.stop();
  });
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;
  await controller.request('session.open', { call_id: 'log-1', trace_id: traceId }, { traceparent });
  await service.waitForLog(
    (e) => e.msg === 'request done' && e.method === 'session.open' && e.call_id === 'log-1' && e.trace_id === traceId && e.traceparent === traceparent,
    2000,
    'the request line with the traceparent trace id',
  );
  // No traceparent: a call's request still logs the trace id the call was opened with.
  await controller.request('stats', { call_id: 'log-1' }, { traceparent: 'not-a-traceparent' });
  await service.waitForLog((e) => e.msg === 'request done' && e.method === 'stats' && e.trace_id === traceId, 2000, 'the stats line');
  await assert.rejects(controller.request('router.getRtpCapabilities', { call_id: 'ghost' }, { traceparent }), { code: 'not_found' });
  await service.waitForLog((e) => /^request failed/.test(e.msg) && e.call_id === 'ghost' && e.trace_id === traceId, 2000, 'the failure line');
  await controller.request('session.close', { call_id: 'log-1' }, { traceparent }); // as the controller does: the call's
  const callLines = service.logs.filter((e) => e.call_id === 'log-1');
  assert.ok(callLines.some((e) => e.event === 'session_opened'));
  assert.ok(callLines.every((e) => e.trace_id === traceId), JSON.stringify(callLines.filter((e) => e.trace_id !== traceId)));
  const jsonLines = service.logs.filter((e) => !('raw' in e));
  assert.ok(jsonLines.length > 0);
  for (const entry of jsonLines) assert.ok('trace_id' in entry && 'call_id' in entry, JSON.stringify(entry));
});
