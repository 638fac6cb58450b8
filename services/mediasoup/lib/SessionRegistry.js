// @ts-check
'use strict';

const { EventEmitter } = require('node:events');
const { Session } = require('./Session');
const { ErrorCode, ServiceError, notFound } = require('./errors');

/**
 * All live sessions by call_id, and the rules between them: one session per call, a session
 * may only name its own objects, a dead worker takes its sessions with it.
 *
 * Events (the server turns them into notifications):
 *  - 'bargein' ({callId, volume, atMs})
 *  - 'failed' ({callId, reason})
 */
class SessionRegistry extends EventEmitter {
  constructor({ pool, logger, network }) {
    super();
    this.pool = pool;
    this.logger = logger;
    this.network = network;
    this.sessions = new Map(); // call_id -> Session
    this.opening = new Map(); // call_id -> Promise<Session>, so concurrent opens share one router
    pool.on('died', (worker) => this.#failSessionsOn(worker));
  }

  /** Returns the call's session, creating it on the least-loaded worker if needed. */
  async open(callId, traceId) {
    const existing = this.sessions.get(callId);
    if (existing) return existing;
    if (this.opening.has(callId)) return this.opening.get(callId);

    const pending = this.#create(callId, traceId);
    this.opening.set(callId, pending);
    try {
      return await pending;
    } finally {
      this.opening.delete(callId);
    }
  }

  async #create(callId, traceId) {
    const worker = this.pool.pick();
    const logger = this.logger.child({ call_id: callId, trace_id: traceId ?? null });
    const session = await Session.open({ callId, traceId, worker, logger, network: this.network });
    this.sessions.set(callId, session);
    session.once('close', () => {
      if (this.sessions.get(callId) === session) this.sessions.delete(callId);
    });
    session.on('bargein', ({ volume, atMs }) => this.emit('bargein', { callId, volume, atMs }));
    logger.info({ event: 'session_opened', worker_pid: worker.pid, router_id: session.router.id }, 'session opened');
    return session;
  }

  get(callId) {
    const session = this.sessions.get(callId);
    if (!session) throw notFound('session', callId);
    return session;
  }

  /** Idempotent: closing an unknown or closed session is fine. */
  close(callId) {
    this.sessions.get(callId)?.close('closed by controller');
  }

  /**
   * Checks that `id` is an object of `session`: an id of another session is `foreign_object`
   * (a controller bug worth telling apart from a stale id), anything else unknown `not_found`.
   */
  assertOwned(session, id, what) {
    if (session.owns(id)) return;
    for (const other of this.sessions.values()) {
      if (other !== session && other.owns(id)) {
        throw new ServiceError(ErrorCode.FOREIGN_OBJECT, `${what} ${id} belongs to another call`);
      }
    }
    throw notFound(what, id);
  }

  totals() {
    const totals = { sessions: this.sessions.size, transports: 0, producers: 0, consumers: 0 };
    for (const s of this.sessions.values()) {
      totals.transports += s.transports.size;
      totals.producers += s.producers.size;
      totals.consumers += s.consumers.size;
    }
    return totals;
  }

  describe() {
    return [...this.sessions.values()].map((s) => ({
      call_id: s.callId,
      trace_id: s.traceId ?? null,
      worker_pid: s.workerPid,
      router_id: s.router.id,
      transports: s.transports.size,
      producers: s.producers.size,
      consumers: s.consumers.size,
      age_ms: Date.now() - s.createdAt,
    }));
  }

  closeAll(reason) {
    for (const session of [...this.sessions.values()]) session.close(reason);
  }

  #failSessionsOn(worker) {
    for (const session of [...this.sessions.values()]) {
      if (session.worker !== worker) continue;
      const reason = `mediasoup worker ${worker.pid} died`;
      session.logger.fatal({ event: 'session_failed', worker_pid: worker.pid, severity: 'CRITICAL' }, reason);
      session.close(reason);
      this.emit('failed', { callId: session.callId, reason });
    }
  }
}

module.exports = { SessionRegistry };
