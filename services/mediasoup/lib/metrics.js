// @ts-check
'use strict';

/** Prometheus text exposition of the service's gauges and counters. */
function renderMetrics({ pool, registry, controllers, counters }) {
  const totals = registry.totals();
  const liveWorkers = pool.workers.filter((w) => !w.died && !w.closed).length;
  const lines = [];
  const metric = (name, type, help, value) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
  };
  metric('mediasoup_workers', 'gauge', 'Live mediasoup worker processes.', liveWorkers);
  metric('mediasoup_workers_expected', 'gauge', 'Configured number of worker processes.', pool.size);
  metric('mediasoup_worker_deaths_total', 'counter', 'Workers that died unexpectedly.', pool.deaths);
  metric('mediasoup_sessions', 'gauge', 'Open sessions (calls).', totals.sessions);
  metric('mediasoup_transports', 'gauge', 'Open transports.', totals.transports);
  metric('mediasoup_producers', 'gauge', 'Open producers.', totals.producers);
  metric('mediasoup_consumers', 'gauge', 'Open consumers.', totals.consumers);
  metric('mediasoup_controller_connections', 'gauge', 'Authenticated controller WebSockets.', controllers);
  metric('mediasoup_requests_total', 'counter', 'Requests handled.', counters.requests);
  metric('mediasoup_request_errors_total', 'counter', 'Requests answered with an error.', counters.requestErrors);
  metric('mediasoup_barge_ins_total', 'counter', 'barge_in_detected notifications.', counters.bargeIns);
  metric('mediasoup_sessions_failed_total', 'counter', 'Sessions lost with their worker.', counters.sessionsFailed);
  return `${lines.join('\n')}\n`;
}

module.exports = { renderMetrics };
