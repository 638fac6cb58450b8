'use strict';

const pino = require('pino');

// Python-style names are accepted too, so one LOG_LEVEL serves every service of the project.
const LEVEL_ALIASES = { critical: 'fatal', warning: 'warn' };

/** Root logger: JSON lines on stdout, each with service:"mediasoup". */
function createLogger(level = 'info') {
  const normalized = LEVEL_ALIASES[level] || level;
  return pino({
    level: pino.levels.values[normalized] !== undefined ? normalized : 'info',
    base: { service: 'mediasoup', pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names ("fatal") instead of numbers, so log readers need no pino knowledge.
    formatters: { level: (label) => ({ level: label }) },
  });
}

module.exports = { createLogger };
