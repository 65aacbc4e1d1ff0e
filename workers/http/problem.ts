import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { isRequestErrorCode, requestErrors, type RequestErrorCode } from '../../config/error-catalogue.js';

/**
 * An HTTP error as RFC 9457 problem details (`application/problem+json`), with the stable machine `code`
 * DESIGN.md asks for: clients and alert rules match on `code`, people read `detail`.
 */
export interface Problem {
  /** A URI naming the kind of problem: `urn:dossier-sync:problem:<code>`. */
  type: string;
  /** The code's title in the error catalogue: its HTTP status's phrase. */
  title: string;
  status: number;
  /** What is wrong and what is expected, for a person. */
  detail: string;
  /**
   * Stable machine code, declared in config/error-catalogue.ts, e.g. `unauthorized`, `not_found`, `signature_invalid`.
   */
  code: RequestErrorCode;
  /** Every problem found, one line each (`path: expected …, got …`), when there are several. */
  errors?: string[];
  /** The request path the problem is about. */
  instance?: string;
}

/** The media type of a problem. */
export const problemContentType = 'application/problem+json';

/** The zod schema of a problem: the error responses of zod routes, and `components.schemas.Problem` in OpenAPI. */
export const problemBody = z
  .object({
    type: z.string().describe('urn:dossier-sync:problem:<code>'),
    title: z.string(),
    status: z.int(),
    detail: z.string().describe('what is wrong and what is expected, for a person'),
    code: z.string().describe('stable machine code from the error catalogue (README, "Error codes")'),
    errors: z.array(z.string()).optional().describe('every problem found, one line each'),
    instance: z.string().optional().describe('the request path the problem is about'),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' });

/** How a route declares one error status: a problem, sent as application/problem+json. */
export interface ProblemResponse {
  description: string;
  content: { [problemContentType]: { schema: typeof problemBody } };
}

/**
 * The error responses of a route, one per status: each a problem as `application/problem+json`, a `$ref` to
 * `components.schemas.Problem` in the OpenAPI document (the serializer picks it by the reply's content type).
 */
export function problemResponses(...statuses: number[]): Record<number, ProblemResponse> {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: `${STATUS_CODES[status] ?? 'Error'}: problem details, with a code from the error catalogue`,
        content: { [problemContentType]: { schema: problemBody } },
      },
    ]),
  );
}

/** What a problem may carry besides its code and detail. */
export interface ProblemExtras {
  /** Every problem found, one line each. */
  errors?: string[];
  /** The request path the problem is about; default: the request's. */
  instance?: string;
  /**
   * Another status of the same class as the catalogue's, for a code that passes on a status it did not choose
   * (`bad_request`: the 4xx fastify refused a request with); the title is then that status's phrase.
   */
  status?: number;
}

/**
 * The problem of a catalogue code: its status and title come from config/error-catalogue.ts, the detail from the
 * caller. A code the catalogue does not declare is a fault of ours, refused at once.
 */
export function problem(code: RequestErrorCode, detail: string, extras: ProblemExtras = {}): Problem {
  if (!isRequestErrorCode(code))
    throw new TypeError(
      `${JSON.stringify(code)} is not a request error code of the error catalogue (config/error-catalogue.ts)`,
    );
  const { status: passedOn, ...rest } = extras;
  const entry = requestErrors[code];
  if (passedOn !== undefined && Math.floor(passedOn / 100) !== Math.floor(entry.status / 100)) {
    throw new RangeError(`${code} is answered with a ${Math.floor(entry.status / 100)}xx status, not ${passedOn}`);
  }
  const status = passedOn ?? entry.status;
  const title = passedOn === undefined ? entry.title : (STATUS_CODES[passedOn] ?? 'Error');
  return { type: `urn:dossier-sync:problem:${code}`, title, status, detail, code, ...rest };
}

/** Sends a problem as `application/problem+json`; the request path becomes its `instance`. */
export function sendProblem(reply: FastifyReply, details: Problem): FastifyReply {
  return reply
    .code(details.status)
    .type(problemContentType)
    .send({ ...details, instance: details.instance ?? reply.request.url.split('?')[0] });
}
