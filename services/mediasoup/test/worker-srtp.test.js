// @ts-check
'use strict';

// Checks our libsrtp 3 -> 2.5 adapter (worker-shims/libsrtp3/include/srtp.h) inside the built
// worker: RTP goes through a pair of SRTP plain transports (protect on one side, unprotect on
// the other) for every crypto suite mediasoup offers, and a wrong key is rejected.
const { resolveWorkerBin, startRtpSender, startRtpReceiver, waitUntil, opusRtpParameters } = require('../testing/harness');

process.env.MEDIASOUP_WORKER_BIN = resolveWorkerBin(); // mediasoup reads it when first required
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const mediasoup = require('mediasoup');

const SUITES = ['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];
/** @type {import('mediasoup').types.TransportListenInfo} */
const listenInfo = { protocol: 'udp', ip: '127.0.0.1' };

async function pollUntil(ms, description, check) {
  return waitUntil(ms, description, (done) => {
    let stop = false;
    (async () => {
      while (!stop) {
        const value = await check();
        if (value) return done(value);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    return () => (stop = true);
  });
}

test('worker SRTP through the libsrtp2 adapter', async (t) => {
  const worker = await mediasoup.createWorker({ logLevel: 'error' });
  const router = await worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] });
  const sender = { stop() {} };
  t.after(() => {
    sender.stop();
    worker.close();
  });

  // Plain RTP in from the test.
  const ssrc = 0x5eed;
  const inbound = await router.createPlainTransport({ listenInfo, comedia: true });
  const source = await inbound.produce({ kind: 'audio', rtpParameters: /** @type {import('mediasoup').types.RtpParameters} */ (opusRtpParameters(ssrc)) });
  Object.assign(sender, await startRtpSender({ ip: '127.0.0.1', port: inbound.tuple.localPort, ssrc, level: 30 }));

  /** consumer on A --SRTP--> B, then B's producer consumed to a plain UDP receiver. */
  async function srtpHop(suite, { corruptKey = false } = {}) {
    const a = await router.createPlainTransport({ listenInfo, comedia: false, enableSrtp: true, srtpCryptoSuite: suite });
    const b = await router.createPlainTransport({ listenInfo, comedia: false, enableSrtp: true, srtpCryptoSuite: suite });
    const aParams = { ...a.srtpParameters };
    if (corruptKey) aParams.keyBase64 = crypto.randomBytes(Buffer.from(aParams.keyBase64, 'base64').length).toString('base64');
    await a.connect({ ip: '127.0.0.1', port: b.tuple.localPort, srtpParameters: b.srtpParameters });
    await b.connect({ ip: '127.0.0.1', port: a.tuple.localPort, srtpParameters: aParams });
    const hop = await a.consume({ producerId: source.id, rtpCapabilities: router.rtpCapabilities });
    const relayed = await b.produce({ kind: 'audio', rtpParameters: hop.rtpParameters });

    const receiver = await startRtpReceiver();
    const out = await router.createPlainTransport({ listenInfo, comedia: false });
    await out.connect({ ip: '127.0.0.1', port: receiver.port });
    const consumer = await out.consume({ producerId: relayed.id, rtpCapabilities: router.rtpCapabilities });
    return { a, b, receiver, consumer, close: () => [a, b, out].forEach((x) => x.close()) };
  }

  for (const suite of SUITES) {
    await t.test(`${suite}: packets are encrypted, decrypted and forwarded`, async () => {
      const hop = await srtpHop(suite);
      try {
        const ssrcOut = hop.consumer.rtpParameters.encodings[0].ssrc;
        await hop.receiver.waitForPackets(3, (p) => p.ssrc === ssrcOut, 10000);
      } finally {
        hop.close();
        hop.receiver.close();
      }
    });
  }

  await t.test('a wrong key: SRTP arrives but nothing is decrypted', async () => {
    const hop = await srtpHop('AES_CM_128_HMAC_SHA1_80', { corruptKey: true });
    try {
      await pollUntil(3000, 'encrypted bytes at the receiving transport', async () => {
        const [stats] = await hop.b.getStats();
        return stats.bytesReceived > 1000;
      });
      const [stats] = await hop.b.getStats();
      assert.equal(stats.rtpBytesReceived, 0, 'no packet passed authentication');
      assert.equal(hop.receiver.packets.length, 0);
    } finally {
      hop.close();
      hop.receiver.close();
    }
  });
});
