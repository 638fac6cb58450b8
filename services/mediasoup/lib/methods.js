// @ts-check
'use strict';

/**
 * The method table (docs/internal-protocol.md). Params arrive checked against the request schema
 * (lib/validation.js, exported from libs/protocol): a handler only applies defaults and the rules
 * a schema cannot state (sessions, ownership).
 *
 * @typedef {import('./SessionRegistry').SessionRegistry} SessionRegistry
 * @typedef {import('./Session').Session} Session
 * @typedef {{
 *   registry: SessionRegistry,
 *   pool: import('./WorkerPool').WorkerPool,
 *   config: import('./config').Settings,
 *   protocolVersion: number,
 *   controllers: () => number,
 * }} Context
 * @typedef {(ctx: Context, params: Record<string, any>) => Promise<object>} Method
 */

/** @param {Context} ctx @param {Record<string, any>} params */
const session = (ctx, params) => ctx.registry.get(params.call_id);

/**
 * The id in `params[name]`, checked to be an object of `sess` (else not_found / foreign_object).
 * @param {Context} ctx @param {Session} sess @param {Record<string, any>} params @param {string} name @param {string} what
 */
function owned(ctx, sess, params, name, what) {
  const id = params[name];
  ctx.registry.assertOwned(sess, id, what);
  return id;
}

/** @param {'producer' | 'consumer'} kind @param {boolean} paused @returns {Method} */
const pauseResume = (kind, paused) => async (ctx, params) => {
  const sess = session(ctx, params);
  await sess.setPaused(kind, owned(ctx, sess, params, 'id', kind), paused);
  return {};
};

/** @type {Record<string, Method>} */
const methods = {
  async 'session.open'(ctx, params) {
    const sess = await ctx.registry.open(params.call_id, params.trace_id);
    return {
      router_id: sess.router.id,
      rtp_capabilities: sess.router.rtpCapabilities,
      worker_pid: sess.workerPid,
      protocol_version: ctx.protocolVersion,
    };
  },

  async 'session.close'(ctx, params) {
    ctx.registry.close(params.call_id);
    return {};
  },

  async 'router.getRtpCapabilities'(ctx, params) {
    return { rtp_capabilities: session(ctx, params).router.rtpCapabilities };
  },

  async 'transport.createPlain'(ctx, params) {
    const sess = session(ctx, params);
    const transport = await sess.createPlainTransport({
      comedia: params.comedia,
      listenIp: params.listen_ip,
      announcedAddress: params.announced_address,
      rtcpMux: params.rtcp_mux ?? true,
    });
    /** @type {Record<string, unknown>} */
    const data = { transport_id: transport.id, ip: transport.tuple.localAddress, port: transport.tuple.localPort };
    if (transport.rtcpTuple) data.rtcp_port = transport.rtcpTuple.localPort;
    return data;
  },

  async 'transport.connectPlain'(ctx, params) {
    const sess = session(ctx, params);
    const transportId = owned(ctx, sess, params, 'transport_id', 'transport');
    await sess.connectPlainTransport(transportId, { ip: params.ip, port: params.port, rtcpPort: params.rtcp_port });
    return {};
  },

  async 'transport.createWebRtc'(ctx, params) {
    const sess = session(ctx, params);
    const transport = await sess.createWebRtcTransport({ listenIp: params.listen_ip, announcedAddress: params.announced_address });
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
    await sess.connectWebRtcTransport(transportId, params.dtls_parameters);
    return {};
  },

  async produce(ctx, params) {
    const sess = session(ctx, params);
    const transportId = owned(ctx, sess, params, 'transport_id', 'transport');
    const producer = await sess.produce(transportId, {
      kind: params.kind,
      rtpParameters: params.rtp_parameters,
      appData: params.app_data,
    });
    return { producer_id: producer.id };
  },

  async consume(ctx, params) {
    const sess = session(ctx, params);
    const transportId = owned(ctx, sess, params, 'transport_id', 'transport');
    const producerId = owned(ctx, sess, params, 'producer_id', 'producer');
    const consumer = await sess.consume(transportId, {
      producerId,
      rtpCapabilities: params.rtp_capabilities,
      paused: params.paused ?? false,
    });
    return { consumer_id: consumer.id, producer_id: producerId, kind: consumer.kind, rtp_parameters: consumer.rtpParameters };
  },

  'producer.pause': pauseResume('producer', true),
  'producer.resume': pauseResume('producer', false),
  'consumer.pause': pauseResume('consumer', true),
  'consumer.resume': pauseResume('consumer', false),

  async close(ctx, params) {
    const sess = session(ctx, params);
    const id = owned(ctx, sess, params, 'id', params.kind);
    sess.closeObject(params.kind, id);
    return {};
  },

  async 'audioLevel.observe'(ctx, params) {
    const sess = session(ctx, params);
    const producerId = owned(ctx, sess, params, 'producer_id', 'producer');
    const observer = await sess.observeAudioLevel(producerId, { threshold: params.threshold, interval: params.interval });
    return { observer_id: observer.id };
  },

  async 'session.setBotSpeaking'(ctx, params) {
    session(ctx, params).setBotSpeaking(params.speaking);
    return {};
  },

  async stats(ctx, params) {
    if (params.call_id !== undefined) return ctx.registry.get(params.call_id).stats();
    return {
      workers: ctx.pool.describe(),
      sessions: ctx.registry.describe(),
      controllers: ctx.controllers(),
      worker_deaths: ctx.pool.deaths,
    };
  },
};

module.exports = { methods };
