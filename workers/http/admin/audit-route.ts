import type { Kysely } from 'kysely';
import { z } from 'zod';
import { listAuditEvents } from '../../../db/queries/audit-events.js';
import type { Database } from '../../../db/schema.js';
import { auditActions, auditListView } from '../../control-plane/audit.js';
import { jsonResponse, type ZodApi } from '../openapi.js';
import { connectorIdParams, isoTime } from './connector-routes.js';

// `GET /v1/admin/audit`: the audit trail, the view `fleet audit list -o json` prints.

/** One recorded change (workers/control-plane/audit.ts `AuditEventView`). */
export const auditEventSchema = z
  .object({
    id: z.string().describe('increasing: the order changes were recorded in'),
    at: isoTime,
    actor: z
      .object({
        kind: z.enum(['api_key', 'cli']),
        id: z.string().describe("the key's id, or the operating-system user of a fleet command"),
        name: z.string().describe("the key's name, or the operating-system user"),
      })
      .describe('who made the change'),
    action: z.string().describe(`what was done: one of ${auditActions.join(', ')} (later issues add more)`),
    connectorId: z.string().nullable(),
    provinceCode: z.string().nullable().describe("the connector's current (2025) province code"),
    apiKeyId: z.string().nullable().describe('the key a key change was about'),
    definitionHashBefore: z
      .string()
      .nullable()
      .describe('sha256 (hex) of the canonical definition JSON before the change (secrets only as references)'),
    definitionHashAfter: z.string().nullable().describe('the same after the change'),
    details: z
      .record(z.string(), z.unknown())
      .describe('counts and settings of the change (dead letters replayed, grace seconds); never a secret'),
  })
  .meta({ id: 'AuditEvent', description: 'one change made through the admin API or fleet: when, who, what' });

const auditQuery = z.object({
  connector: connectorIdParams.shape.id.optional().describe('only changes to this connector'),
  since: z.iso
    .datetime({ offset: true, error: 'expected an ISO 8601 time such as 2026-11-27T08:00:00+07:00' })
    .optional()
    .describe('only changes at or after this time'),
  limit: z.coerce
    .number({ error: 'expected a whole number from 1 to 1000' })
    .int({ error: 'expected a whole number from 1 to 1000' })
    .min(1, { error: 'expected a whole number from 1 to 1000' })
    .max(1000, { error: 'expected a whole number from 1 to 1000' })
    .default(100)
    .describe('at most this many changes; default 100'),
  cursor: z
    .string()
    .regex(/^\d{1,18}$/, { error: 'expected the nextCursor of a previous page' })
    .optional()
    .describe("the previous page's nextCursor"),
});

/** Registers `GET /audit` on the admin API. */
export function registerAuditRoute(api: ZodApi, db: Kysely<Database>): void {
  api.get(
    '/audit',
    {
      schema: {
        summary: 'The audit trail: every change made through the admin API or fleet, oldest first',
        tags: ['admin: audit'],
        security: [{ apiKey: [] }],
        querystring: auditQuery,
        response: {
          200: jsonResponse(
            'the changes, oldest first',
            z.object({
              events: z.array(auditEventSchema),
              nextCursor: z.string().nullable().describe('pass as cursor for the next page; null: this is the last'),
            }),
          ),
        },
      },
    },
    async (request) => {
      const { connector, since, limit, cursor } = request.query;
      const rows = await listAuditEvents(
        db,
        // A province key sees its provinces' events; a national key (provinces null) sees all.
        {
          connectorId: connector,
          since: since === undefined ? undefined : new Date(since),
          provinces: request.apiKey?.provinces ?? null,
        },
        { afterId: cursor, limit },
      );
      return auditListView(rows, limit);
    },
  );
}
