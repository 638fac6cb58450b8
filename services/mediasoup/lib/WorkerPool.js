// @ts-check
'use strict';

const { EventEmitter } = require('node:events');
const mediasoup = require('mediasoup');
const { ErrorCode, ServiceError } = require('./errors');

const REPLACEMENT_RETRY_MS = 1000;

/**
 * One mediasoup Worker (a C++ subprocess) per core. Routers go to the least-loaded live worker.
 *
 * Events:
 *  - 'died' (worker, error): a worker died unexpectedly; it is already out of the pool.
 *  - 'replaced' ({pid, replacementPid}): a replacement for the dead worker `pid` is running
 *    (replacementPid is null if it could not be started; the pool keeps retrying).
 */
class WorkerPool extends EventEmitter {
  /**
   * @param {{ size: number, logger: import('pino').Logger, logLevel?: import('mediasoup').types.WorkerLogLevel }} options
   */
  constructor({ size, logger, logLevel = 'warn' }) {
    super();
    this.size = size;
    this.logger = logger.child({ component: 'WorkerPool' });
    this.logLevel = logLevel;
    this.workers = [];
    this.routerCounts = new Map(); // Worker -> live routers on it
    this.deaths = 0;
    this.closed = false;
  }

  async start() {
    const workers = await Promise.all(Array.from({ length: this.size }, () => this.#spawn()));
    this.logger.info({ pids: workers.map((w) => w.pid) }, 'workers started');
  }

  /** The live worker with the fewest routers. */
  pick() {
    const live = this.workers.filter((w) => !w.died && !w.closed);
    if (live.length === 0) {
      throw new ServiceError(ErrorCode.WORKER_UNAVAILABLE, 'no mediasoup worker is running');
    }
    return live.reduce((best, w) => (this.routerCounts.get(w) < this.routerCounts.get(best) ? w : best));
  }

  /** All workers of the pool are alive (a dead one is replaced within a moment). */
  healthy() {
    return !this.closed && this.workers.length === this.size && this.workers.every((w) => !w.died && !w.closed);
  }

  describe() {
    return this.workers.map((w) => ({ pid: w.pid, routers: this.routerCounts.get(w) ?? 0 }));
  }

  async close() {
    this.closed = true;
    for (const worker of this.workers) worker.close();
    this.workers = [];
  }

  async #spawn() {
    const worker = await mediasoup.createWorker({ logLevel: this.logLevel });
    this.routerCounts.set(worker, 0);
    worker.observer.on('newrouter', (router) => {
      this.routerCounts.set(worker, this.routerCounts.get(worker) + 1);
      router.observer.once('close', () => {
        if (this.routerCounts.has(worker)) this.routerCounts.set(worker, this.routerCounts.get(worker) - 1);
      });
    });
    worker.on('died', (error) => this.#onDied(worker, error));
    if (this.closed) {
      worker.close();
      throw new ServiceError(ErrorCode.WORKER_UNAVAILABLE, 'worker pool is closed');
    }
    this.workers.push(worker);
    return worker;
  }

  #onDied(worker, error) {
    this.deaths += 1;
    this.workers = this.workers.filter((w) => w !== worker);
    this.routerCounts.delete(worker);
    // The spec asks for CRITICAL: pino's highest level is "fatal"; severity makes it explicit.
    this.logger.fatal(
      { event: 'worker_died', worker_pid: worker.pid, severity: 'CRITICAL', err: error },
      'mediasoup worker died; its calls are lost',
    );
    this.emit('died', worker, error);
    if (!this.closed) this.#replace(worker.pid);
  }

  async #replace(deadPid, announced = false) {
    try {
      const replacement = await this.#spawn();
      this.logger.warn({ event: 'worker_replaced', worker_pid: deadPid, replacement_pid: replacement.pid }, 'worker replaced');
      // After a failed first try the controller was already told (replacement_pid null).
      if (!announced) this.emit('replaced', { pid: deadPid, replacementPid: replacement.pid });
    } catch (error) {
      if (this.closed) return;
      this.logger.error({ err: error, worker_pid: deadPid }, 'could not start a replacement worker; retrying');
      if (!announced) this.emit('replaced', { pid: deadPid, replacementPid: null });
      setTimeout(() => this.#replace(deadPid, true), REPLACEMENT_RETRY_MS).unref();
    }
  }
}

module.exports = { WorkerPool };
