// @ts-check
'use strict';

/** Error codes of the internal protocol (docs/internal-protocol.md). */
const ErrorCode = Object.freeze({
  NOT_FOUND: 'not_found',
  INVALID_PARAMS: 'invalid_params',
  UNKNOWN_METHOD: 'unknown_method',
  FOREIGN_OBJECT: 'foreign_object',
  WORKER_UNAVAILABLE: 'worker_unavailable',
  INTERNAL: 'internal',
});

/** An error that is answered to the controller with its own code (anything else is `internal`). */
class ServiceError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'ServiceError';
    this.code = code;
  }
}

const notFound = (what, id) => new ServiceError(ErrorCode.NOT_FOUND, `${what} ${id} not found`);
const invalidParams = (message) => new ServiceError(ErrorCode.INVALID_PARAMS, message);

module.exports = { ErrorCode, ServiceError, notFound, invalidParams };
