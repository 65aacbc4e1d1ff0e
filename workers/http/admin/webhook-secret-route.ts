import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../../db/schema.js';
import { ConnectorRegistry, RegistryError } from '../../control-plane/connector-registry.js';
import { issueWebhookSecret } from '../../control-plane/webhook-secrets.js';
import type { SecretBox } from '../../webhooks/secret-box.js';
import { jsonResponse, type ZodApi } from '../openapi.js';
import { problem, problemResponses, sendProblem } from '../problem.js';
import { connectorIdParams, connectorState, isoTime } from './connector-routes.js';
import { requestActor } from './request-actor.js';

// `POST /v1/admin/connectors/{id}/rotate-secret`: what `fleet connector rotate-secret` does, for a key.

/** The longest grace period, as the CLI's --grace: long enough for any vendor's change process. */
const maxGraceSeconds = 90 * 86_400;

const rotationBody = z
  .object({
    graceSeconds: z
      .number({ error: `expected a whole number of seconds from 0 to ${maxGraceSeconds}` })
      .int({ error: `expected a whole number of seconds from 0 to ${maxGraceSeconds}` })
      .min(0, { error: `expected a whole number of seconds from 0 to ${maxGraceSeconds}` })
      .max(maxGraceSeconds, { error: `expected a whole number of seconds from 0 to ${maxGraceSeconds}` })
      .default(86_400)
      .describe('how long the previous secrets stay valid; 0 refuses them at once; default 86400 (24 hours)'),
  })
  .meta({ id: 'WebhookSecretRotation', description: 'how a webhook secret rotation treats the previous secrets' });

const rotatedSecret = z
  .object({
    connectorId: z.string(),
    secret: z
      .string()
      .describe(
        "the new Standard Webhooks secret (whsec_…): shown this once, stored only encrypted; give it to the province system's team",
      ),
    previousSecrets: z.number().int().describe('how many previous secrets were valid before this rotation'),
    previousValidUntil: isoTime
      .nullable()
      .describe('until when the previous secrets are accepted; null: refused from now on (or there were none)'),
    connectorState: connectorState.describe('a paused connector refuses deliveries until resumed'),
  })
  .meta({ id: 'RotatedWebhookSecret', description: "a connector's new webhook secret, shown once" });

/** Registers `POST /connectors/:id/rotate-secret` on the admin API; `box` null: 503 `webhooks_not_configured`. */
export function registerWebhookSecretRoute(api: ZodApi, db: Kysely<Database>, box: SecretBox | null): void {
  const registry = new ConnectorRegistry(db);
  api.post(
    '/connectors/:id/rotate-secret',
    {
      schema: {
        summary: "Issues a connector's next webhook secret; the previous ones stay valid for the grace period",
        tags: ['admin: connectors'],
        security: [{ apiKey: [] }],
        params: connectorIdParams,
        // No body (fastify passes null) is the default grace period.
        body: rotationBody.nullish(),
        response: {
          201: jsonResponse('the new secret, shown this once (Cache-Control: no-store)', rotatedSecret),
          ...problemResponses(404, 409, 503),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      // Another province's connector is unknown to this key: the registry answers 404 in an unknown id's words.
      try {
        await registry.get(id, request.apiKey);
      } catch (error) {
        if (error instanceof RegistryError) return sendProblem(reply, problem(error.code, error.message));
        throw error;
      }
      if (!box)
        return sendProblem(
          reply,
          problem(
            'webhooks_not_configured',
            'SECRETS_KEY (or SECRETS_KEYS) is not set on this gateway: it cannot encrypt a new webhook secret',
          ),
        );
      const graceSeconds = request.body?.graceSeconds ?? 86_400;
      const { secret, outcome } = await issueWebhookSecret(db, box, {
        connectorId: id,
        graceSeconds,
        actor: requestActor(request),
      });
      if (outcome.status === 'not_found')
        return sendProblem(reply, problem('not_found', `connector ${id} is not registered`));
      if (outcome.status === 'removed')
        return sendProblem(
          reply,
          problem('conflict', `connector ${id} is removed; register it again (POST /v1/admin/connectors) first`),
        );
      void reply.code(201).header('cache-control', 'no-store');
      return {
        connectorId: id,
        secret,
        previousSecrets: outcome.previous.count,
        previousValidUntil: outcome.previous.validUntil?.toISOString() ?? null,
        connectorState: outcome.state,
      };
    },
  );
}
