import { z } from 'zod';
import { definitionFile } from '../definition.js';
import { breakerSchema, rateLimitSchema, retrySchema } from '../sdk/source-policy.js';
import { authSection, fieldsSection, httpSection, incrementalSection, paginationSection, recordsSection, requestSection, statusesSection, webhookSection } from './declarative-config.js';

/**
 * The JSON Schema of a connector definition file, generated from the same zod declarations that validate it,
 * so editors can complete and check a definition and the committed schema.json never drifts from the code.
 */
export function definitionJsonSchema(): Record<string, unknown> {
  const file = definitionFile.extend({
    http: httpSection.optional(),
    auth: authSection.optional(),
    request: requestSection.optional(),
    pagination: paginationSection.optional(),
    incremental: incrementalSection.optional(),
    records: recordsSection.optional(),
    webhook: webhookSection.optional(),
    fields: fieldsSection.optional(),
    statuses: statusesSection.optional(),
    rateLimit: rateLimitSchema.optional(),
    retry: retrySchema.optional(),
    breaker: breakerSchema.optional(),
  });
  return {
    $id: 'https://dossier-sync/connectors/declarative/schema.json',
    title: 'dossier-sync connector definition',
    description: 'One file a provincial IT team writes to connect its system: the declarative REST sections, or a code plugin. See connectors/declarative/README.md.',
    ...z.toJSONSchema(file, { io: 'input', unrepresentable: 'any' }),
  };
}
