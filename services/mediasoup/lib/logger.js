// @ts-check
'use strict';

const pino = require('pino');

// Python-style names are accepted too, so one LOG_LEVEL serves every service of the project.
const LEVEL_ALIASES = { critical: 'fatal', warning: 'warn' };
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The trace id (32 hex) of a W3C traceparent, or null. */
function traceIdOf(traceparent) {
  const match = TRACEPARENT.exec(String(traceparent ?? '').trim().toLowerCase());
  return match && !/^0+$/.test(match[1]) ? match[1] : null;
}

/**
 * Every line carries trace_id and call_id, as in the Python services: a call's lines get them
 * from the call's child logger (or the line's own fields); any other line gets them as null.
 */
function callIdsOrNull(mergeObject, _level, logger) {
  const bound = logger.bindings();
  const ids = {};
  if (!('trace_id' in mergeObject) && !('trace_id' in bound)) ids.trace_id = null;
  if (!('call_id' in mergeObject) && !('call_id' in bound)) ids.call_id = null;
  return ids;
}

/** Root logger: JSON lines on stdout, each with service:"mediasoup", trace_id and call_id. */
function createLogger(level = 'info', destination = undefined) {
  const normalized = LEVEL_ALIASES[level] || level;
  return pino(
    {
      level: pino.levels.values[normalized] !== undefined ? normalized : 'info',
      base: { service: 'mediasoup', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names ("fatal") instead of numbers, so log readers need no pino knowledge.
      formatters: { level: (label) => ({ level: label }) },
      mixin: callIdsOrNull,
    },
    destination,
  );
}

module.exports = { createLogger, traceIdOf };
