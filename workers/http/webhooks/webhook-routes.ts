import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DeliveryOutcome } from '../../webhooks/delivery-outcome.js';
import type { WebhookIntake } from '../../webhooks/webhook-intake.js';
import { problem, problemResponses, sendProblem } from '../problem.js';
import { jsonResponse } from '../openapi.js';

/** What the webhook routes need. */
export interface WebhookRoutesOptions {
  intake: WebhookIntake;
  /** Largest body accepted (WEBHOOK_BODY_LIMIT_BYTES); larger → 413. */
  bodyLimit: number;
}

const accepted = z
  .object({
    webhookId: z.string().describe("the delivery's webhook-id"),
    accepted: z.int().describe('updates taken (durable in the ingest queue; applied by the writer)'),
    rejected: z.int().describe('updates kept as dead letters, each with its reason'),
    errors: z
      .array(z.string())
      .optional()
      .describe('one line per rejected update: where, dossier, reason, what is expected'),
  })
  .meta({ id: 'WebhookAccepted', description: 'a delivery taken: its updates are durable, applied by the writer' });

const connectorParams = z.object({
  connectorId: z.string().describe('the connector the updates belong to'),
});

// Loose: every other header of the request passes as it is.
const signatureHeaders = z.looseObject({
  'webhook-id': z
    .string()
    .optional()
    .describe('unique per message, the same on every retry of it: the idempotency key'),
  'webhook-timestamp': z
    .string()
    .optional()
    .describe('unix seconds at signing; more than 5 minutes from now is refused'),
  'webhook-signature': z
    .string()
    .optional()
    .describe(
      'space-separated v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>"> under the connector\'s whsec_ secret',
    ),
});

/** The body as bytes: nothing of it is read before the signature over it is verified. */
const pushedBody = z
  .unknown()
  .describe(
    "one update (a JSON object) or a list of them, in the connector's own dialect, UTF-8; signed over its raw bytes",
  );

/**
 * A delivery's outcome in HTTP: 202 with the counts, or the refusal's problem (status and title from the error
 * catalogue), with `Retry-After` when the same delivery may be taken a little later and `Idempotent-Replayed`
 * when the answer is the one recorded for an earlier copy. A recorded answer names its connector as `instance`,
 * not the request's spelling of the URL, so that every retry gets it byte for byte.
 */
function sendOutcome(reply: FastifyReply, connectorId: string, outcome: DeliveryOutcome): FastifyReply {
  if (outcome.replayed) reply.header('idempotent-replayed', 'true');
  if (outcome.kind === 'accepted') {
    const { webhookId, accepted, rejected, problems } = outcome;
    return reply
      .code(202)
      .send({ webhookId, accepted, rejected, ...(problems.length > 0 ? { errors: problems } : {}) });
  }
  if (outcome.retryAfterSeconds !== undefined) reply.header('retry-after', String(outcome.retryAfterSeconds));
  const recorded = outcome.code === 'all_records_invalid' ? { instance: `/v1/webhooks/${connectorId}` } : {};
  return sendProblem(
    reply,
    problem(outcome.code, outcome.detail, { ...(outcome.problems ? { errors: outcome.problems } : {}), ...recorded }),
  );
}

function connectorOf(url: string): string {
  const match = /^\/v1\/webhooks\/([^/?]*)/.exec(url);
  return match ? decodeURIComponent(match[1]!).slice(0, 64) : '';
}

/**
 * `POST /v1/webhooks/{connectorId}`: pushed updates from a province system, signed per Standard Webhooks.
 * Registered with the prefix `/v1/webhooks`; its content-type parser keeps the raw body bytes (the signature
 * is over them) and nothing else is parsed before the signature is verified.
 */
export async function webhookRoutes(api: FastifyInstance, options: WebhookRoutesOptions): Promise<void> {
  const { intake } = options;
  api.removeAllContentTypeParsers();
  api.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: options.bodyLimit },
    (request, body, done) => {
      const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
      if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
        done(
          Object.assign(new Error(`charset ${charset}`), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }),
          undefined,
        );
        return;
      }
      done(null, body);
    },
  );

  api.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      problem(
        'not_found',
        `there is no ${request.method} ${request.url.split('?')[0]}; webhooks are POST /v1/webhooks/{connectorId}`,
      ),
    ),
  );

  api.setErrorHandler((error: FastifyError, request, reply) => {
    const connectorId = connectorOf(request.url);
    const status = error.statusCode ?? 500;
    let details;
    if (hasZodFastifySchemaValidationErrors(error)) {
      const errors = error.validation.map(
        (issue) =>
          `${[error.validationContext, ...issue.instancePath.split('/').filter(Boolean)].join('.')}: ${issue.message}`,
      );
      details = problem('invalid_request', errors.join('; '), { errors });
    } else if (status === 413) {
      details = problem(
        'payload_too_large',
        `the body is larger than ${options.bodyLimit} bytes, the limit of one delivery; send fewer updates per delivery`,
      );
    } else if (status === 415) {
      details = problem(
        'unsupported_media_type',
        `expected Content-Type: application/json (UTF-8), got ${JSON.stringify((request.headers['content-type'] ?? 'none').slice(0, 100))}`,
      );
    } else if (status >= 400 && status < 500) {
      details = problem(
        'body_unparseable',
        'the request body could not be read; expected JSON in UTF-8 with a correct Content-Length',
      );
    } else {
      details = problem(
        'internal',
        'the delivery could not be processed; it was not acknowledged, so send it again later (the error is in the gateway log)',
      );
    }
    intake.countRefused(connectorId, details.code);
    return sendProblem(reply, details);
  });

  api.withTypeProvider<ZodTypeProvider>().post(
    '/:connectorId',
    {
      bodyLimit: options.bodyLimit,
      schema: {
        summary: "Push one update, or a list of them, in the connector's own format, signed per Standard Webhooks",
        tags: ['webhooks'],
        params: connectorParams,
        headers: signatureHeaders,
        consumes: ['application/json'],
        body: pushedBody,
        response: {
          202: jsonResponse('the delivery is taken: its updates are durable and the writer applies them', accepted),
          ...problemResponses(400, 401, 404, 409, 413, 415, 422, 500, 503),
        },
      },
    },
    async (request, reply) => {
      // The request's arrival (before its body was read): the records' observedAt, the start of their latency.
      const receivedAt = new Date(Date.now() - reply.elapsedTime);
      if (request.body === undefined || request.body === null) {
        // No body and no Content-Type: fastify parses nothing.
        intake.countRefused(request.params.connectorId, 'unsupported_media_type');
        return sendProblem(
          reply,
          problem(
            'unsupported_media_type',
            'expected a JSON body with Content-Type: application/json (UTF-8), got none',
          ),
        );
      }
      const outcome = await intake.handle({
        connectorId: request.params.connectorId,
        headers: request.headers,
        body: request.body as Buffer,
        receivedAt,
      });
      return sendOutcome(reply, request.params.connectorId, outcome);
    },
  );
}
