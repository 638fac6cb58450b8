// @ts-check
'use strict';

// Requests are checked against the schema exported from libs/protocol (no worker needed).
const test = require('node:test');
const assert = require('node:assert/strict');
const { methods } = require('../lib/methods');
const { compileRequestValidator, loadRequestSchema, protocolVersionOf } = require('../lib/validation');

const validate = compileRequestValidator();
const rejection = (request) => {
  try {
    validate(request);
  } catch (error) {
    return { code: error.code, message: error.message };
  }
  return null;
};

test('the schema and the method table list the same methods', () => {
  assert.deepEqual(loadRequestSchema()['x-methods'], Object.keys(methods).sort());
});

test('the schema carries the internal protocol version', () => {
  assert.ok(Number.isInteger(protocolVersionOf()) && protocolVersionOf() >= 1);
});

test('a valid request passes, params default to {}', () => {
  assert.deepEqual(validate({ id: 1, method: 'stats' }).params, {});
  const request = { id: 2, method: 'transport.connectPlain', params: { call_id: 'c', transport_id: 't', ip: '::1', port: 5004 } };
  assert.equal(validate(request), request);
});

test('bad params are invalid_params with a sentence naming the field', () => {
  const cases = [
    [{ id: 1, method: 'session.open', params: {} }, 'call_id is required'],
    [{ id: 1, method: 'session.open', params: { call_id: '' } }, 'call_id must be a non-empty string'],
    [{ id: 1, method: 'transport.createPlain', params: { call_id: 'c', comedia: 'yes' } }, 'comedia must be boolean'],
    [{ id: 1, method: 'transport.createPlain', params: { call_id: 'c', comedia: true, listen_ip: null } }, 'listen_ip must be string'],
    [{ id: 1, method: 'transport.connectPlain', params: { call_id: 'c', transport_id: 't', ip: '1.2.3', port: 9 } }, 'ip must be an IPv4 or IPv6 address'],
    [{ id: 1, method: 'transport.connectPlain', params: { call_id: 'c', transport_id: 't', ip: '127.0.0.1', port: 70000 } }, 'port must be <= 65535'],
    [{ id: 1, method: 'produce', params: { call_id: 'c', transport_id: 't', kind: 'video', rtp_parameters: {} } }, 'kind must be "audio"'],
    [{ id: 1, method: 'close', params: { call_id: 'c', kind: 'router', id: 'x' } }, 'kind must be one of transport, producer, consumer, observer'],
    [{ id: 1, method: 'audioLevel.observe', params: { call_id: 'c', producer_id: 'p', interval: 100 } }, 'interval must be >= 250'],
    [{ id: 1, method: 'session.setBotSpeaking', params: { call_id: 'c' } }, 'speaking is required'],
    [{ id: 1, method: 'stats', params: [] }, 'params must be object'],
  ];
  for (const [request, message] of cases) {
    assert.deepEqual(rejection(request), { code: 'invalid_params', message }, JSON.stringify(request));
  }
});

test('an unknown method passes the schema (the method table answers unknown_method)', () => {
  assert.equal(rejection({ id: 1, method: 'nope', params: { anything: 1 } }), null);
});
