// @ts-check
'use strict';

// A worker killed with SIGKILL: its sessions fail at once, a replacement starts, service goes on.
const test = require('node:test');
const assert = require('node:assert/strict');
const { startService, Controller } = require('../testing/harness');

test('mediasoup service: worker death', async (t) => {
  const service = await startService({ workers: 2 });
  const controller = await Controller.connect(service);
  t.after(async () => {
    await controller.close();
    await service.stop();
  });

  // Least-loaded placement puts the two calls on different workers.
  const a = await controller.request('session.open', { call_id: 'victim' });
  const b = await controller.request('session.open', { call_id: 'bystander' });
  assert.notEqual(a.worker_pid, b.worker_pid);
  const { worker_pid: pid } = await controller.request('stats', { call_id: 'victim' });

  const killedAt = Date.now();
  process.kill(pid, 'SIGKILL');

  const failed = await controller.waitFor('session_failed', (d) => d.call_id === 'victim', 10000);
  assert.ok(Date.now() - killedAt < 1000);
  assert.match(failed.reason, new RegExp(String(pid)));

  const died = await controller.waitFor('worker_died', (d) => d.pid === pid, 10000);
  assert.ok(Number.isInteger(died.replacement_pid) && died.replacement_pid !== pid);

  await service.waitForLog((e) => e.level === 'fatal' && e.event === 'worker_died' && e.worker_pid === pid, 1000, 'the fatal log line');

  const stats = await controller.request('stats');
  assert.deepEqual(stats.sessions.map((s) => s.call_id), ['bystander']);
  assert.deepEqual(stats.workers.map((w) => w.pid).sort(), [b.worker_pid, died.replacement_pid].sort());
  assert.equal(stats.worker_deaths, 1);
  await assert.rejects(controller.request('stats', { call_id: 'victim' }), { code: 'not_found' });
  assert.equal(controller.notifications.filter((n) => n.notification === 'session_failed').length, 1, 'the bystander did not fail');

  assert.equal((await service.http('/healthz')).status, 200);
  assert.match(await (await service.http('/metrics')).text(), /^mediasoup_worker_deaths_total 1$/m);

  // The failed call can be set up again, on a live worker.
  const reopened = await controller.request('session.open', { call_id: 'victim' });
  assert.notEqual(reopened.worker_pid, pid);
  await controller.request('transport.createPlain', { call_id: 'victim', comedia: true });
  await controller.request('session.close', { call_id: 'victim' });
  await controller.request('session.close', { call_id: 'bystander' });
});
