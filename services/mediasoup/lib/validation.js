// @ts-check
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { default: Ajv2020 } = require('ajv/dist/2020');
const { invalidParams } = require('./errors');

/** Exported from libs/protocol (voicebot_protocol.media_service_methods) by `make schema`. */
const REQUEST_SCHEMA_FILE = path.join(__dirname, '../../../docs/schema/internal.media-service.request.schema.json');

/**
 * @typedef {{ id: number, method: string, params: Record<string, any>, trace?: { traceparent?: string } }} Request
 * @typedef {(request: unknown) => Request} RequestValidator
 */

/** @param {string} file */
function loadRequestSchema(file = REQUEST_SCHEMA_FILE) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/**
 * One readable sentence naming the field, e.g. "port must be <= 65535", "call_id is required".
 * @param {import('ajv').ErrorObject} error
 */
function describe(error) {
  const where = error.instancePath.replace(/^\/params\/?/, '').replace(/^\//, '').replaceAll('/', '.');
  const field = (name) => (where ? `${where}.${name}` : name);
  switch (error.keyword) {
    case 'required':
      return `${field(error.params.missingProperty)} is required`;
    case 'const':
      return `${where} must be ${JSON.stringify(error.params.allowedValue)}`;
    case 'enum':
      return `${where} must be one of ${error.params.allowedValues.join(', ')}`;
    case 'format':
      return error.params.format === 'ipvanyaddress' ? `${where} must be an IPv4 or IPv6 address` : `${where} ${error.message}`;
    case 'minLength':
      return `${where} must be a non-empty string`;
    default:
      return `${where || 'params'} ${error.message}`;
  }
}

/**
 * Compiles the request schema with ajv; the validator returns the request (params defaulted to
 * {}) or throws invalid_params with the first problem.
 * @param {object} schema
 * @returns {RequestValidator}
 */
function compileRequestValidator(schema = loadRequestSchema()) {
  const ajv = new Ajv2020({ strict: true, allErrors: false });
  ajv.addKeyword('x-protocol-version');
  ajv.addKeyword('x-methods');
  ajv.addFormat('ipvanyaddress', { type: 'string', validate: (value) => net.isIP(value) !== 0 });
  const validate = ajv.compile(schema);
  return (request) => {
    const withParams = isObject(request) && request.params === undefined ? { ...request, params: {} } : request;
    if (validate(withParams)) return /** @type {Request} */ (withParams);
    // An `if`/`then` failure is reported after the error inside `then`: the first error is the one.
    const first = (validate.errors ?? []).find((e) => e.keyword !== 'if');
    throw invalidParams(first ? describe(first) : 'invalid request');
  };
}

/** @param {unknown} value @returns {value is Record<string, any>} */
function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The internal protocol version the schema was exported with (answered by session.open). */
function protocolVersionOf(schema = loadRequestSchema()) {
  const version = schema['x-protocol-version'];
  if (!Number.isInteger(version)) throw new Error(`${REQUEST_SCHEMA_FILE} has no integer x-protocol-version`);
  return version;
}

module.exports = { REQUEST_SCHEMA_FILE, loadRequestSchema, compileRequestValidator, protocolVersionOf, describe };
