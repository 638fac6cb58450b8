// @ts-check
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { loadConfig } = require('../lib/config');

const S = '7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e';

test('settings come in sections, with defaults', () => {
  const settings = loadConfig({ MEDIASOUP_SERVICE_SECRET: S });
  assert.deepEqual(settings.server, { host: '127.0.0.1', port: 0, secret: S });
  assert.ok(settings.workers.count >= 1);
  assert.equal(settings.workers.bin, undefined);
  assert.deepEqual(settings.rtc, { listenIp: '127.0.0.1', announcedAddress: undefined, portRange: undefined });
  assert.equal(settings.log.level, 'info');
  assert.ok(Object.isFrozen(settings) && Object.isFrozen(settings.rtc));
});

test('every variable lands in its section', () => {
  const settings = loadConfig({
    MEDIASOUP_SERVICE_SECRET: S,
    MEDIASOUP_SERVICE_HOST: '0.0.0.0',
    MEDIASOUP_SERVICE_PORT: '4443',
    MEDIASOUP_WORKERS: '3',
    MEDIASOUP_WORKER_BIN: '/bin/worker',
    MEDIASOUP_LISTEN_IP: '10.0.0.2',
    MEDIASOUP_ANNOUNCED_IP: '203.0.113.7',
    MEDIASOUP_RTC_MIN_PORT: '40000',
    MEDIASOUP_RTC_MAX_PORT: '40100',
    LOG_LEVEL: 'DEBUG',
  });
  assert.deepEqual(settings.server, { host: '0.0.0.0', port: 4443, secret: S });
  assert.deepEqual(settings.workers, { count: 3, bin: '/bin/worker' });
  assert.deepEqual(settings.rtc, { listenIp: '10.0.0.2', announcedAddress: '203.0.113.7', portRange: { min: 40000, max: 40100 } });
  assert.equal(settings.log.level, 'debug');
});

test('invalid settings fail with a message naming the variable', () => {
  assert.throws(() => loadConfig({}), /MEDIASOUP_SERVICE_SECRET is required/);
  assert.throws(() => loadConfig({ MEDIASOUP_SERVICE_SECRET: S, MEDIASOUP_WORKERS: '0' }), /MEDIASOUP_WORKERS must be an integer in \[1, 256\]/);
  assert.throws(() => loadConfig({ MEDIASOUP_SERVICE_SECRET: S, MEDIASOUP_RTC_MIN_PORT: '40000' }), /go together/);
  assert.throws(
    () => loadConfig({ MEDIASOUP_SERVICE_SECRET: S, MEDIASOUP_RTC_MIN_PORT: '5', MEDIASOUP_RTC_MAX_PORT: '4' }),
    /must not exceed/,
  );
});

test('a short or placeholder secret stops the service at start', () => {
  for (const weak of ['s', 'short-secret', 'REPLACE-WITH-A-RANDOM-SECRET-0123456789', 'a'.repeat(40), 'change-me-change-me-change-me-0123']) {
    assert.throws(() => loadConfig({ MEDIASOUP_SERVICE_SECRET: weak }), /MEDIASOUP_SERVICE_SECRET (must be at least|looks like a placeholder)/, weak);
  }
});
