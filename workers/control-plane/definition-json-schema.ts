import { z } from 'zod';
import { definitionFile } from './definition.js';
import {
  declarativeConfig,
  pushOnlyConfig,
  readingSections,
  sectionNames,
  sectionSchemas,
} from '../../connectors/declarative/declarative-config.js';

/** The keys a schema requires of its input (defaults and optional keys excluded), as the JSON Schema of it says. */
function requiredOf(schema: z.ZodType): string[] {
  return (z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { required?: string[] }).required ?? [];
}
const has = (key: string) => ({ required: [key] });
/** fields.sourceUpdatedAt is required where no incremental.cursorField gives the update time. */
const sourceUpdatedAtRequired = { properties: { fields: { required: ['sourceUpdatedAt'] } } };

/**
 * The JSON Schema of a connector definition file, generated from the same zod declarations that validate it,
 * so editors can complete and check a definition and the committed schema.json never drifts from the code.
 * `oneOf` says which sections each kind requires: a code plugin, a polled system, a system that only pushes.
 */
export function definitionJsonSchema(): Record<string, unknown> {
  const file = definitionFile.extend(
    Object.fromEntries(Object.entries(sectionSchemas).map(([name, schema]) => [name, schema.optional()])),
  );
  return {
    $id: 'https://dossier-sync/connectors/declarative/schema.json',
    title: 'dossier-sync connector definition',
    description:
      'One file a provincial IT team writes to connect its system: the declarative REST sections, or a code plugin. See connectors/declarative/README.md.',
    ...z.toJSONSchema(file, { io: 'input', unrepresentable: 'any' }),
    oneOf: [
      {
        title: 'a code plugin',
        description: 'plugin, with its own config; none of the declarative sections',
        required: ['plugin'],
        not: { anyOf: sectionNames.map(has) },
      },
      {
        title: 'a polled system (which may push too, with webhook)',
        description:
          'http, request, records, fields and statuses; fields.sourceUpdatedAt unless incremental.cursorField gives the update time',
        required: requiredOf(declarativeConfig),
        not: has('plugin'),
        if: { not: has('incremental') },
        then: sourceUpdatedAtRequired,
      },
      {
        title: 'a system that only pushes (never polled)',
        description:
          'webhook, fields (with sourceUpdatedAt) and statuses; no section about reading the system, no schedule, no backfill',
        required: requiredOf(pushOnlyConfig),
        not: { anyOf: [...readingSections, 'plugin', 'schedule', 'backfill'].map(has) },
        ...sourceUpdatedAtRequired,
      },
    ],
  };
}
