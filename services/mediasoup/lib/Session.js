// @ts-check
'use strict';

const { EventEmitter } = require('node:events');
const { notFound, invalidParams } = require('./errors');
const { ROUTER_MEDIA_CODECS } = require('./config');

// Bounds of threshold (-127..0 dBov) and interval (250..60000 ms) are the request schema's.
const DEFAULT_BARGE_IN_THRESHOLD_DBOV = -50;

/**
 * One call: a Router on one Worker and every transport, producer, consumer and audio-level
 * observer created under it. Methods take and return mediasoup objects; the protocol shape
 * (snake_case) is methods.js's business.
 *
 * Events:
 *  - 'bargein' ({volume, atMs}): the caller is loud while the bot speaks.
 *  - 'close' (): the session is gone (closed, or its worker died).
 */
class Session extends EventEmitter {
  /** Creates the router on `worker`; the session is usable once this resolves. */
  static async open({ callId, traceId, worker, logger, network }) {
    const router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS.map((codec) => ({ ...codec })), appData: { callId } });
    return new Session({ callId, traceId, worker, router, logger, network });
  }

  constructor({ callId, traceId, worker, router, logger, network }) {
    super();
    this.callId = callId;
    this.traceId = traceId;
    this.worker = worker;
    this.workerPid = worker.pid;
    this.router = router;
    this.network = network; // { listenIp, announcedAddress, portRange }
    this.logger = logger;
    this.transports = new Map();
    this.producers = new Map();
    this.consumers = new Map();
    this.observers = new Map(); // observer id -> AudioLevelObserver
    this.observerByProducer = new Map();
    // Every id this session ever created, so that closing a closed object is a no-op.
    this.everOwned = new Set([router.id]);
    this.botSpeaking = false;
    this.audioLevelEvents = 0;
    this.closed = false;
    this.createdAt = Date.now();
  }

  owns(id) {
    return this.everOwned.has(id);
  }

  // --- transports ---------------------------------------------------------------------------

  /** @param {{ listenIp?: string, announcedAddress?: string }} options */
  #listenInfo({ listenIp, announcedAddress }) {
    /** @type {import('mediasoup').types.TransportListenInfo} */
    const info = { protocol: 'udp', ip: listenIp || this.network.listenIp };
    const announced = announcedAddress || this.network.announcedAddress;
    if (announced) info.announcedAddress = announced;
    if (this.network.portRange) info.portRange = this.network.portRange;
    return info;
  }

  async createPlainTransport({ comedia, listenIp, announcedAddress, rtcpMux = true }) {
    const transport = await this.router.createPlainTransport({
      listenInfo: this.#listenInfo({ listenIp, announcedAddress }),
      rtcpMux,
      comedia,
    });
    this.#track(this.transports, transport);
    this.logger.info(
      { event: 'transport_created', transport_id: transport.id, type: 'plain', comedia, local_port: transport.tuple.localPort },
      'plain transport created',
    );
    return transport;
  }

  async connectPlainTransport(transportId, { ip, port, rtcpPort }) {
    const transport = this.#get(this.transports, 'transport', transportId);
    if (transport.type !== 'plain') {
      throw invalidParams(`transport ${transportId} is not a plain transport`);
    }
    await transport.connect({ ip, port, rtcpPort });
  }

  /** @param {{ listenIp?: string, announcedAddress?: string }} [options] */
  async createWebRtcTransport({ listenIp, announcedAddress } = {}) {
    const udp = this.#listenInfo({ listenIp, announcedAddress });
    // ICE candidates for UDP and TCP on the same address; UDP first, TCP for networks that block UDP.
    const transport = await this.router.createWebRtcTransport({
      listenInfos: [udp, { ...udp, protocol: 'tcp' }],
      preferUdp: true,
    });
    this.#track(this.transports, transport);
    this.logger.info({ event: 'transport_created', transport_id: transport.id, type: 'webrtc' }, 'webrtc transport created');
    return transport;
  }

  async connectWebRtcTransport(transportId, dtlsParameters) {
    const transport = this.#get(this.transports, 'transport', transportId);
    if (transport.type !== 'webrtc') throw invalidParams(`transport ${transportId} is not a WebRTC transport`);
    await transport.connect({ dtlsParameters });
  }

  // --- producers and consumers --------------------------------------------------------------

  async produce(transportId, { kind, rtpParameters, appData }) {
    const transport = this.#get(this.transports, 'transport', transportId);
    let producer;
    try {
      producer = await transport.produce({ kind, rtpParameters, appData: { ...appData, callId: this.callId } });
    } catch (error) {
      // mediasoup rejects malformed rtpParameters with TypeError/UnsupportedError.
      if (error instanceof TypeError || error.name === 'UnsupportedError') throw invalidParams(error.message);
      throw error;
    }
    this.#track(this.producers, producer);
    this.logger.info({ event: 'producer_created', producer_id: producer.id, transport_id: transportId }, 'producer created');
    return producer;
  }

  async consume(transportId, { producerId, rtpCapabilities, paused = false }) {
    const transport = this.#get(this.transports, 'transport', transportId);
    this.#get(this.producers, 'producer', producerId);
    const capabilities = rtpCapabilities || this.router.rtpCapabilities;
    if (!this.router.canConsume({ producerId, rtpCapabilities: capabilities })) {
      throw invalidParams(`producer ${producerId} cannot be consumed with the given rtp_capabilities`);
    }
    const consumer = await transport.consume({ producerId, rtpCapabilities: capabilities, paused });
    this.#track(this.consumers, consumer);
    this.logger.info(
      { event: 'consumer_created', consumer_id: consumer.id, producer_id: producerId, transport_id: transportId },
      'consumer created',
    );
    return consumer;
  }

  async setPaused(kind, id, paused) {
    const map = kind === 'producer' ? this.producers : this.consumers;
    const object = this.#get(map, kind, id);
    if (paused) await object.pause();
    else await object.resume();
  }

  /**
   * Closes one object; closing one that this session already closed is a no-op.
   * @param {'transport' | 'producer' | 'consumer' | 'observer'} kind @param {string} id
   */
  closeObject(kind, id) {
    const maps = { transport: this.transports, producer: this.producers, consumer: this.consumers, observer: this.observers };
    const object = maps[kind].get(id);
    if (object) object.close();
    else if (!this.owns(id)) throw notFound(kind, id);
  }

  // --- barge-in -------------------------------------------------------------------------------

  async observeAudioLevel(producerId, { threshold = DEFAULT_BARGE_IN_THRESHOLD_DBOV, interval = 500 } = {}) {
    this.#get(this.producers, 'producer', producerId);

    const existing = this.observerByProducer.get(producerId);
    if (existing) return existing; // one observer per producer: the call is idempotent

    const observer = await this.router.createAudioLevelObserver({ maxEntries: 1, threshold, interval });
    await observer.addProducer({ producerId });
    this.#track(this.observers, observer);
    this.observerByProducer.set(producerId, observer);
    observer.observer.once('close', () => this.observerByProducer.delete(producerId));
    observer.on('volumes', (volumes) => this.#onVolumes(volumes));
    this.logger.info({ event: 'audio_level_observed', producer_id: producerId, observer_id: observer.id, threshold, interval }, 'observing audio level');
    return observer;
  }

  setBotSpeaking(speaking) {
    if (this.botSpeaking !== speaking) this.logger.debug({ bot_speaking: speaking }, 'bot speaking changed');
    this.botSpeaking = speaking;
  }

  #onVolumes(volumes) {
    this.audioLevelEvents += 1;
    if (!this.botSpeaking || volumes.length === 0) return;
    const volume = volumes[0].volume;
    const atMs = Date.now();
    this.logger.info({ event: 'barge_in_detected', volume }, 'caller spoke over the bot');
    this.emit('bargein', { volume, atMs });
  }

  // --- lifecycle ------------------------------------------------------------------------------

  stats() {
    return {
      router_id: this.router.id,
      worker_pid: this.workerPid,
      transports: [...this.transports.keys()],
      producers: [...this.producers.keys()],
      consumers: [...this.consumers.keys()],
      observers: [...this.observers.keys()],
      bot_speaking: this.botSpeaking,
      audio_level_events: this.audioLevelEvents,
    };
  }

  /** Closes the router and so everything under it. Idempotent. */
  close(reason = 'closed') {
    if (this.closed) return;
    this.closed = true;
    this.router.close();
    this.logger.info({ event: 'session_closed', reason }, 'session closed');
    this.emit('close', reason);
  }

  #track(map, object) {
    map.set(object.id, object);
    this.everOwned.add(object.id);
    // 'close' on the observer fires however the object goes (own close, transport/producer/
    // router close, worker death), so the maps never keep dead objects.
    object.observer.once('close', () => map.delete(object.id));
  }

  #get(map, what, id) {
    const object = map.get(id);
    if (!object) throw notFound(what, id);
    return object;
  }
}

module.exports = { Session };
