import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';

/**
 * An HTTP error as RFC 9457 problem details (`application/problem+json`), with the stable machine `code`
 * DESIGN.md asks for: clients and alert rules match on `code`, people read `detail`.
 */
export interface Problem {
  /** A URI naming the kind of problem: `urn:dossier-sync:problem:<code>`. */
  type: string;
  /** The HTTP status's phrase. */
  title: string;
  status: number;
  /** What is wrong and what is expected, for a person. */
  detail: string;
  /** Stable machine code, e.g. `unauthorized`, `forbidden`, `not_found`, `invalid_definition`, `conflict`. */
  code: string;
  /** Every problem found, one line each (`path: expected …, got …`), when there are several. */
  errors?: string[];
  /** The request path the problem is about. */
  instance?: string;
}

/** The media type of a problem. */
export const problemContentType = 'application/problem+json';

/** The JSON schema of a problem, for the routes' response schemas (and the OpenAPI document). */
export const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    errors: { type: 'array', items: { type: 'string' } },
    instance: { type: 'string' },
  },
} as const;

/** A problem of the given status and machine code. */
export function problem(status: number, code: string, detail: string, extra: { errors?: string[]; instance?: string } = {}): Problem {
  return { type: `urn:dossier-sync:problem:${code}`, title: STATUS_CODES[status] ?? 'Error', status, detail, code, ...extra };
}

/** Sends a problem as `application/problem+json`; the request path becomes its `instance`. */
export function sendProblem(reply: FastifyReply, details: Problem): FastifyReply {
  return reply
    .code(details.status)
    .type(problemContentType)
    .send({ ...details, instance: details.instance ?? reply.request.url.split('?')[0] });
}
