// @ts-check
'use strict';

// Real RTP over UDP on 127.0.0.1 through the real worker: forwarding and barge-in.
const test = require('node:test');
const assert = require('node:assert/strict');
const { startService, Controller, waitUntil, opusRtpParameters, startRtpSender, startRtpReceiver } = require('../testing/harness');

const CALLER_SSRC = 0x1234abcd;
const LOUD = 10; // -10 dBov
const OBSERVER_INTERVAL_MS = 250;

test('mediasoup service: media', async (t) => {
  const service = await startService();
  const controller = await Controller.connect(service);
  const cleanups = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) cleanup();
    await controller.close();
    await service.stop();
  });

  const call = 'media-call';
  await controller.request('session.open', { call_id: call, trace_id: 'media-trace' });

  // The caller's leg: comedia plain transport; its remote address is learnt from the first packet.
  const inbound = await controller.request('transport.createPlain', { call_id: call, comedia: true });
  const { producer_id: producerId } = await controller.request('produce', {
    call_id: call,
    transport_id: inbound.transport_id,
    kind: 'audio',
    rtp_parameters: opusRtpParameters(CALLER_SSRC),
  });
  const sender = await startRtpSender({ ip: inbound.ip, port: inbound.port, ssrc: CALLER_SSRC, level: LOUD });
  cleanups.push(() => sender.stop());

  await t.test('produce rejects malformed rtp_parameters', async () => {
    await assert.rejects(
      controller.request('produce', { call_id: call, transport_id: inbound.transport_id, kind: 'audio', rtp_parameters: { codecs: [] } }),
      { code: 'invalid_params' },
    );
    await assert.rejects(
      controller.request('produce', { call_id: call, transport_id: inbound.transport_id, kind: 'video', rtp_parameters: opusRtpParameters(1) }),
      { code: 'invalid_params' },
    );
  });

  await t.test('consume forwards the caller RTP to a plain transport connected to a UDP socket', async () => {
    const receiver = await startRtpReceiver();
    cleanups.push(() => receiver.close());
    const outbound = await controller.request('transport.createPlain', { call_id: call, comedia: false });
    await controller.request('transport.connectPlain', { call_id: call, transport_id: outbound.transport_id, ip: '127.0.0.1', port: receiver.port });
    const consumed = await controller.request('consume', { call_id: call, transport_id: outbound.transport_id, producer_id: producerId });
    assert.equal(consumed.kind, 'audio');
    assert.equal(consumed.producer_id, producerId);
    const encoding = consumed.rtp_parameters.encodings[0];
    assert.equal(consumed.rtp_parameters.codecs[0].payloadType, 100);

    const packets = await receiver.waitForPackets(5, (p) => p.ssrc === encoding.ssrc, 10000);
    assert.ok(packets.every((p) => p.payloadType === 100));

    const stats = await controller.request('stats', { call_id: call });
    assert.deepEqual(stats.consumers, [consumed.consumer_id]);
    assert.deepEqual(stats.producers, [producerId]);

    await controller.request('consumer.pause', { call_id: call, id: consumed.consumer_id });
    await controller.request('consumer.resume', { call_id: call, id: consumed.consumer_id });
    await controller.request('close', { call_id: call, kind: 'consumer', id: consumed.consumer_id });
    assert.deepEqual((await controller.request('stats', { call_id: call })).consumers, []);
  });

  await t.test('the audio level observer reports barge-in only while the bot speaks', async () => {
    await assert.rejects(
      controller.request('audioLevel.observe', { call_id: call, producer_id: producerId, interval: 100 }),
      { code: 'invalid_params' },
    );
    const { observer_id: observerId } = await controller.request('audioLevel.observe', {
      call_id: call,
      producer_id: producerId,
      threshold: -50,
      interval: OBSERVER_INTERVAL_MS,
    });
    assert.ok(observerId);

    // Bot silent: wait until the observer has fired twice on the loud caller, and no barge-in.
    await controller.request('session.setBotSpeaking', { call_id: call, speaking: false });
    const base = (await controller.request('stats', { call_id: call })).audio_level_events;
    await waitUntil(15000, 'two audio level events', (done) => {
      let stop = false;
      (async () => {
        while (!stop) {
          const s = await controller.request('stats', { call_id: call });
          if (s.audio_level_events >= base + 2) return done(s);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      return () => (stop = true);
    });
    assert.equal(controller.notifications.filter((n) => n.notification === 'barge_in_detected').length, 0);

    // Bot speaking: the next loud interval is a barge-in.
    const before = Date.now();
    await controller.request('session.setBotSpeaking', { call_id: call, speaking: true });
    const bargeIn = await controller.waitFor('barge_in_detected', (d) => d.call_id === call, 10000);
    assert.ok(bargeIn.volume > -50 && bargeIn.volume <= 0, `volume ${bargeIn.volume} dBov`);
    assert.ok(bargeIn.at_ms >= before && bargeIn.at_ms <= Date.now());
    await controller.request('session.setBotSpeaking', { call_id: call, speaking: false });
  });

  await t.test('session.close closes everything under the router', async () => {
    await controller.request('session.close', { call_id: call });
    const stats = await controller.request('stats');
    assert.deepEqual(stats.sessions, []);
    assert.ok(stats.workers.every((w) => w.routers === 0));
    const metrics = await (await service.http('/metrics')).text();
    for (const gauge of ['sessions', 'transports', 'producers', 'consumers']) {
      assert.match(metrics, new RegExp(`^mediasoup_${gauge} 0$`, 'm'));
    }
  });
});
