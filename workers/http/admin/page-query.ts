import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ConnectorRegistry } from '../../control-plane/connector-registry.js';
import { isProvinceBound } from '../../control-plane/province-scope.js';

// What the admin API's lists share: a page (limit and keyset cursor), a time filter, and the connectors a province
// key reaches.

const wholeNumber = 'expected a whole number from 1 to 1000';

/** `limit`: at most this many of `what` on a page, 1 to 1000; default `byDefault` (100 unless given). */
export const pageLimit = (what: string, byDefault = 100) =>
  z.coerce
    .number({ error: wholeNumber })
    .int({ error: wholeNumber })
    .min(1, { error: wholeNumber })
    .max(1000, { error: wholeNumber })
    .default(byDefault)
    .describe(`at most this many ${what}; default ${byDefault}`);

/** `cursor`: the previous page's nextCursor (the last id it held). */
export const pageCursor = z
  .string()
  .regex(/^\d{1,18}$/, { error: 'expected the nextCursor of a previous page' })
  .optional()
  .describe("the previous page's nextCursor");

/** An ISO 8601 time with an offset, as a query or body field. */
export const isoTimeFilter = (description: string) =>
  z.iso
    .datetime({ offset: true, error: 'expected an ISO 8601 time such as 2026-11-27T08:00:00+07:00' })
    .optional()
    .describe(description);

/** An id of a stored row (a dead letter, a failed batch): a number. */
export const rowId = (what: string) =>
  z
    .string()
    .regex(/^\d{1,18}$/, { error: `expected a ${what} id: a number` })
    .describe(`the ${what} id`);

/** The cursor of the page after these rows: the last one's id, or null when the page was not full. */
export function nextCursor(rows: readonly { id: string | number }[], limit: number): string | null {
  return rows.length === limit ? String(rows.at(-1)!.id) : null;
}

/**
 * The connectors a province key reaches (removed ones too: their dead letters and failed batches stay); undefined
 * for a national key. What a list or a change of their rows is narrowed to.
 */
export async function heldConnectorIds(
  registry: ConnectorRegistry,
  request: FastifyRequest,
): Promise<string[] | undefined> {
  if (!isProvinceBound(request.apiKey)) return undefined;
  return (await registry.list({ includeRemoved: true }, request.apiKey)).map((row) => row.id);
}

/** `nextCursor` of a page's answer. */
export const nextCursorField = z
  .string()
  .nullable()
  .describe('pass as cursor for the next page; null: this is the last');
