'use strict';

// WebRTC transports announce the configured address, with a UDP candidate first and a TCP one after.
const test = require('node:test');
const assert = require('node:assert/strict');
const { startService, Controller } = require('../testing/harness');

test('mediasoup service: WebRTC transports', async (t) => {
  const service = await startService({ env: { MEDIASOUP_ANNOUNCED_IP: '192.0.2.10' }, workers: 1 });
  const controller = await Controller.connect(service);
  t.after(async () => {
    await controller.close();
    await service.stop();
  });
  await controller.request('session.open', { call_id: 'webrtc-call' });

  await t.test('ICE candidates: the announced address, UDP preferred, TCP as fallback', async () => {
    const created = await controller.request('transport.createWebRtc', { call_id: 'webrtc-call' });
    const candidates = created.ice_candidates;
    assert.deepEqual(candidates.map((c) => c.protocol), ['udp', 'tcp']);
    assert.ok(candidates.every((c) => c.address === '192.0.2.10'), JSON.stringify(candidates));
    assert.ok(candidates[0].priority > candidates[1].priority, 'UDP is the preferred candidate');
    assert.equal(candidates[1].tcpType, 'passive');
    assert.equal(created.dtls_parameters.role, 'auto');
    assert.ok(created.dtls_parameters.fingerprints.some((f) => f.algorithm === 'sha-256'));
  });

  await t.test('a per-request announced address overrides the configured one', async () => {
    const created = await controller.request('transport.createWebRtc', { call_id: 'webrtc-call', announced_address: '198.51.100.4' });
    assert.ok(created.ice_candidates.every((c) => c.address === '198.51.100.4'));
  });
});
