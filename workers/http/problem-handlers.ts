import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, ResponseSerializationError } from 'fastify-type-provider-zod';
import type { Logger } from '../logger.js';
import { problem, sendProblem } from './problem.js';

/** Options of {@link problemErrorHandler}. */
export interface ProblemErrorHandlerOptions {
  /** Where a fault of ours (a 5xx) is logged. Default: nowhere. */
  logger?: Logger;
  /** The API named in the log line of a fault, e.g. `admin API`. */
  api: string;
  /** The media types a body may have, for a 415's detail. Default `application/json`. */
  mediaTypes?: string;
  /** What a 413's detail adds after the limit, e.g. `; a connector definition is a few kilobytes`. Default none. */
  bodyLimitHint?: string;
}

/** One line per issue of a request that does not match its route's schema: `querystring.limit: expected …`. */
function validationLines(error: Parameters<typeof hasZodFastifySchemaValidationErrors>[0]): string[] {
  if (!hasZodFastifySchemaValidationErrors(error)) return [];
  const where = error.validationContext ?? 'request';
  return error.validation.map((issue) => {
    const path = issue.instancePath.split('/').filter(Boolean).join('.');
    return `${path ? `${where}.${path}` : where}: ${issue.message ?? 'is invalid'}`;
  });
}

/**
 * An error handler that answers every error as an RFC 9457 problem with a catalogue code: a request that does not
 * match its route's zod schema is 400 `invalid_request` naming each parameter and what is expected; a body over the
 * route's limit 413 `payload_too_large`; a media type the route does not read 415 `unsupported_media_type`; any
 * other 4xx fastify refuses a request with `bad_request` (its status passed on); anything else 500 `internal`,
 * logged, its message never in the answer.
 */
export function problemErrorHandler(options: ProblemErrorHandlerOptions) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const errors = validationLines(error);
    if (errors.length > 0) return sendProblem(reply, problem('invalid_request', errors.join('; '), { errors }));
    const status = error instanceof ResponseSerializationError ? 500 : (error.statusCode ?? 500);
    if (status === 413) {
      return sendProblem(
        reply,
        problem(
          'payload_too_large',
          `the body is larger than ${request.routeOptions.bodyLimit} bytes, the limit of ${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}${options.bodyLimitHint ?? ''}`,
        ),
      );
    }
    if (status === 415) {
      return sendProblem(
        reply,
        problem(
          'unsupported_media_type',
          `expected a body of type ${options.mediaTypes ?? 'application/json'}, got ${JSON.stringify((request.headers['content-type'] ?? 'none').slice(0, 100))}`,
        ),
      );
    }
    if (status >= 400 && status < 500) return sendProblem(reply, problem('bad_request', error.message, { status }));
    options.logger?.error(
      {
        err: error.message,
        ...(error instanceof ResponseSerializationError ? { issues: error.cause.issues } : {}),
        method: request.method,
        url: request.url,
      },
      `${options.api} request failed`,
    );
    return sendProblem(reply, problem('internal', 'the request failed on the server; the error is in the gateway log'));
  };
}

/** A not-found handler: 404 `not_found` naming the method and path, and where the routes are. */
export function notFoundProblem(where: string) {
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply =>
    sendProblem(reply, problem('not_found', `there is no ${request.method} ${request.url.split('?')[0]}${where}`));
}

/**
 * Fastify's `frameworkErrors`: what it refuses before any route is found — a path that is not a valid URL (400), a
 * parameter over its length (414) — as a `bad_request` problem with that status, like every other refusal.
 */
export function frameworkErrorProblem(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return sendProblem(reply, problem('bad_request', error.message, { status }));
  return sendProblem(reply, problem('internal', 'the request failed on the server; the error is in the gateway log'));
}
