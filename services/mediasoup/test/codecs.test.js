// @ts-check
'use strict';

// The router's codecs for telephony: G.711 and telephone-event over real RTP through the real
// worker, on the symmetric pattern (one plain transport, comedia off, both directions).
const test = require('node:test');
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const { ROUTER_MEDIA_CODECS } = require('../lib/config');
const { startService, Controller, startRtpReceiver } = require('../testing/harness');

const CALLER_SSRC = 0x0711c0de;

/** A G.711 or telephone-event RTP packet (no header extension: trunks send none). */
function plainRtp({ payloadType, seq, timestamp, ssrc, payload }) {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = payloadType;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE(timestamp >>> 0, 4);
  header.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([header, payload]);
}

test('router media codecs: Opus, PCMU, PCMA and telephone-event/8000', () => {
  const byMime = Object.fromEntries(ROUTER_MEDIA_CODECS.map((c) => [c.mimeType, c]));
  assert.deepEqual(Object.keys(byMime), ['audio/opus', 'audio/PCMU', 'audio/PCMA', 'audio/telephone-event']);
  assert.equal(byMime['audio/PCMU'].preferredPayloadType, 0);
  assert.equal(byMime['audio/PCMA'].preferredPayloadType, 8);
  assert.equal(byMime['audio/telephone-event'].clockRate, 8000);
  assert.ok(Object.isFrozen(ROUTER_MEDIA_CODECS) && Object.isFrozen(ROUTER_MEDIA_CODECS[0]));
});

test('mediasoup service: G.711 and DTMF on one symmetric plain transport', async (t) => {
  const service = await startService();
  const controller = await Controller.connect(service);
  const call = 'g711-call';
  const gateway = dgram.createSocket('udp4');
  await new Promise((resolve) => gateway.bind(0, '127.0.0.1', () => resolve(undefined)));
  const received = [];
  gateway.on('message', (msg) => {
    if (msg.length >= 12 && msg[1] < 200) received.push({ payloadType: msg[1] & 0x7f, ssrc: msg.readUInt32BE(8) });
  });
  const tap = await startRtpReceiver();
  t.after(async () => {
    gateway.close();
    tap.close();
    await controller.close();
    await service.stop();
  });

  const opened = await controller.request('session.open', { call_id: call });
  const mimes = opened.rtp_capabilities.codecs.map((c) => `${c.mimeType}/${c.clockRate}/${c.preferredPayloadType}`);
  assert.ok(mimes.includes('audio/PCMU/8000/0') && mimes.includes('audio/PCMA/8000/8'), mimes.join(' '));
  assert.ok(mimes.includes('audio/telephone-event/8000/101'), mimes.join(' '));

  // The gateway's one transport, connected to the gateway's address (from SDP): it carries the
  // caller's producer and the consumer of a PCMU "bot" producer.
  const symmetric = await controller.request('transport.createPlain', { call_id: call, comedia: false });
  await controller.request('transport.connectPlain', { call_id: call, transport_id: symmetric.transport_id, ip: '127.0.0.1', port: gateway.address().port });
  const { producer_id: callerId } = await controller.request('produce', {
    call_id: call,
    transport_id: symmetric.transport_id,
    kind: 'audio',
    rtp_parameters: {
      codecs: [
        { mimeType: 'audio/PCMU', payloadType: 0, clockRate: 8000 },
        // What the media-controller makes of the gateway's telephone-event/8000 (PT 96): the
        // worker's consumers forward media codecs only, so the events ride a media codec the
        // call does not use (here PCMA), and reach the tap as the router's PCMA payload type.
        { mimeType: 'audio/PCMA', payloadType: 96, clockRate: 8000 },
      ],
      encodings: [{ ssrc: CALLER_SSRC }],
    },
  });

  const botSide = await controller.request('transport.createPlain', { call_id: call, comedia: true });
  const { producer_id: botId } = await controller.request('produce', {
    call_id: call,
    transport_id: botSide.transport_id,
    kind: 'audio',
    rtp_parameters: { codecs: [{ mimeType: 'audio/PCMU', payloadType: 0, clockRate: 8000 }], encodings: [{ ssrc: 0xb0 }] },
  });
  const toGateway = await controller.request('consume', { call_id: call, transport_id: symmetric.transport_id, producer_id: botId });
  assert.equal(toGateway.rtp_parameters.codecs[0].mimeType, 'audio/PCMU');
  assert.equal(toGateway.rtp_parameters.codecs[0].payloadType, 0);

  // The caller's PCMU and its telephone-event reach a consumer with the router's payload types.
  const tapSide = await controller.request('transport.createPlain', { call_id: call, comedia: false });
  await controller.request('transport.connectPlain', { call_id: call, transport_id: tapSide.transport_id, ip: '127.0.0.1', port: tap.port });
  const tapped = await controller.request('consume', { call_id: call, transport_id: tapSide.transport_id, producer_id: callerId });
  const tappedCodecs = tapped.rtp_parameters.codecs.map((c) => `${c.mimeType}/${c.payloadType}`);
  // telephone-event is in the router's capabilities (so SDP can offer it), but as a carrier only.
  assert.deepEqual(tappedCodecs, ['audio/PCMU/0', 'audio/PCMA/8']);

  const botSender = dgram.createSocket('udp4');
  t.after(() => botSender.close());
  for (let seq = 0; seq < 10; seq += 1) {
    const timestamp = seq * 160;
    gateway.send(plainRtp({ payloadType: 0, seq, timestamp, ssrc: CALLER_SSRC, payload: Buffer.alloc(160, 0xff) }), symmetric.port, symmetric.ip);
    botSender.send(plainRtp({ payloadType: 0, seq, timestamp, ssrc: 0xb0, payload: Buffer.alloc(160, 0x7f) }), botSide.port, botSide.ip);
  }
  const dtmf = Buffer.from([5, 0x8a, 0x03, 0x20]); // digit 5, end, volume 10, 800 units
  gateway.send(plainRtp({ payloadType: 96, seq: 10, timestamp: 1600, ssrc: CALLER_SSRC, payload: dtmf }), symmetric.port, symmetric.ip);

  await tap.waitForPackets(1, (p) => p.payloadType === 8 && p.length <= 40, 10000);
  assert.ok(tap.packets.filter((p) => p.payloadType === 0).length >= 5, 'the caller PCMU was forwarded');
  const botSsrc = toGateway.rtp_parameters.encodings[0].ssrc;
  const deadline = Date.now() + 3000;
  while (received.filter((p) => p.ssrc === botSsrc && p.payloadType === 0).length < 5 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(received.filter((p) => p.ssrc === botSsrc && p.payloadType === 0).length >= 5, 'the bot PCMU reached the gateway address');
});
