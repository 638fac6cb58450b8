'use strict';

const net = require('node:net');
const { invalidParams } = require('./errors');

// --- parameter checks (each throws invalid_params naming the field) ------------------------

function str(params, name, { optional = false } = {}) {
  const value = params[name];
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string' || value === '') throw invalidParams(`${name} must be a non-empty string`);
  return value;
}

function bool(params, name, { optional = false } = {}) {
  const value = params[name];
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'boolean') throw invalidParams(`${name} must be a boolean`);
  return value;
}

function num(params, name, { optional = false, integer = false, min = -Infinity, max = Infinity } = {}) {
  const value = params[name];
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw invalidParams(`${name} must be a ${integer ? 'integer' : 'number'} in [${min}, ${max}]`);
  }
  return value;
}

function obj(params, name, { optional = false } = {}) {
  const value = params[name];
  if (value === undefined && optional) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidParams(`${name} must be an object`);
  return value;
}

function ip(params, name, { optional = false } = {}) {
  const value = str(params, name, { optional });
  if (value !== undefined && net.isIP(value) === 0) throw invalidParams(`${name} must be an IPv4 or IPv6 address`);
  return value;
}

const port = (params, name, opts) => num(params, name, { ...opts, integer: true, min: 1, max: 65535 });

/** The session named by call_id, and every object id in the params checked against it. */
function session(ctx, params) {
  return ctx.registry.get(str(params, 'call_id'));
}

function owned(ctx, sess, params, name, what) {
  const id = str(params, name);
  ctx.registry.assertOwned(sess, id, what);
  return id;
}

const CLOSABLE_KINDS = ['transport', 'producer', 'consumer', 'observer'];

// --- the method table (docs/internal-protocol.md) ------------------------------------------

const pauseResume = (kind, paused) => async (ctx, params) => {
  const sess = session(ctx, params);
  await sess.setPaused(kind, owned(ctx, sess, params, 'id', kind), paused);
  return {};
};

const methods = {
  async 'session.open'(ctx, params) {
    const callId = str(params, 'call_id');
    const traceId = str(params, 'trace_id', { optional: true });
    const sess = await ctx.registry.open(callId, traceId);
    return { router_id: sess.router.id, rtp_capabilities: sess.router.rtpCapabilities, worker_pid: sess.workerPid };
  },

  async 'session.close'(ctx, params) {
    ctx.registry.close(str(params, 'call_id'));
    return {};
  },

  async 'router.getRtpCapabilities'(ctx, params) {
    return { rtp_capabilities: session(ctx, params).router.rtpCapabilities };
  },

  async 'transport.createPlain'(ctx, params) {
    const sess = session(ctx, params);
    const transport = await sess.createPlainTransport({
      comedia: bool(params, 'comedia'),
      listenIp: ip(params, 'listen_ip', { optional: true }),
      announcedAddress: str(params, 'announced_address', { optional: true }),
      rtcpMux: bool(params, 'rtcp_mux', { optional: true }) ?? true,
    });
    const data = { transport_id: transport.id, ip: transport.tuple.localAddress, port: transport.tuple.localPort };
    if (transport.rtcpTuple) data.rtcp_port = transport.rtcpTuple.localPort;
    return data;
  },

  async 'transport.connectPlain'(ctx, params) {
    const sess = session(ctx, params);
    const transportId = owned(ctx, sess, params, 'transport_id', 'transport');
    await sess.connectPlainTransport(transportId, {
      ip: ip(params, 'ip'),
      port: port(params, 'port'),
      rtcpPort: port(params, 'rtcp_port', { optional: true }),
    });
    return {};
  },

  async 'transport.createWebRtc'(ctx, params) {
    const sess = session(ctx, params);
    const transport = await sess.createWebRtcTransport({
      listenIp: ip(params, 'listen_ip', { optional: true }),
      announcedAddress: str(params, 'announced_address', { optional: true }),
    });
    return {
      transport_id: transport.id,
      ice_parameters: transport.iceParameters,
      ice_candidates: transport.iceCandidates,
      dtls_parameters: transport.dtlsParameters,
    };
  },

  async 'transport.connectWebRtc'(ctx, params) {
    const sess = session(ctx, params);
    const transportId = owned(ctx, sess, params, 'transport_id', 'transport');
    await sess.connectWebRtcTransport(transportId, obj(params, 'dtls_parameters'));
    return {};
  },

  async produce(ctx, params) {
    const sess = session(ctx, params);
    const transportId = owned(ctx, sess, params, 'transport_id', 'transport');
    const kind = str(params, 'kind');
    if (kind !== 'audio') throw invalidParams('kind must be "audio"');
    const producer = await sess.produce(transportId, {
      kind,
      rtpParameters: obj(params, 'rtp_parameters'),
      appData: obj(params, 'app_data', { optional: true }),
    });
    return { producer_id: producer.id };
  },

  async consume(ctx, params) {
    const sess = session(ctx, params);
    const transportId = owned(ctx, sess, params, 'transport_id', 'transport');
    const producerId = owned(ctx, sess, params, 'producer_id', 'producer');
    const consumer = await sess.consume(transportId, {
      producerId,
      rtpCapabilities: obj(params, 'rtp_capabilities', { optional: true }),
      paused: bool(params, 'paused', { optional: true }) ?? false,
    });
    return { consumer_id: consumer.id, producer_id: producerId, kind: consumer.kind, rtp_parameters: consumer.rtpParameters };
  },

  'producer.pause': pauseResume('producer', true),
  'producer.resume': pauseResume('producer', false),
  'consumer.pause': pauseResume('consumer', true),
  'consumer.resume': pauseResume('consumer', false),

  async close(ctx, params) {
    const sess = session(ctx, params);
    const kind = str(params, 'kind');
    if (!CLOSABLE_KINDS.includes(kind)) throw invalidParams(`kind must be one of ${CLOSABLE_KINDS.join(', ')}`);
    const id = owned(ctx, sess, params, 'id', kind);
    sess.closeObject(kind, id);
    return {};
  },

  async 'audioLevel.observe'(ctx, params) {
    const sess = session(ctx, params);
    const producerId = owned(ctx, sess, params, 'producer_id', 'producer');
    const observer = await sess.observeAudioLevel(producerId, {
      threshold: num(params, 'threshold', { optional: true, min: -127, max: 0 }),
      interval: num(params, 'interval', { optional: true, integer: true, min: 250, max: 60000 }),
    });
    return { observer_id: observer.id };
  },

  async 'session.setBotSpeaking'(ctx, params) {
    session(ctx, params).setBotSpeaking(bool(params, 'speaking'));
    return {};
  },

  async stats(ctx, params) {
    const callId = str(params, 'call_id', { optional: true });
    if (callId !== undefined) return ctx.registry.get(callId).stats();
    return {
      workers: ctx.pool.describe(),
      sessions: ctx.registry.describe(),
      controllers: ctx.controllers(),
      worker_deaths: ctx.pool.deaths,
    };
  },
};

module.exports = { methods };
