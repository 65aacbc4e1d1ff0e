import type { Migration } from 'kysely';
import * as initialSchema from './0001-initial-schema.js';
import * as connectorRegistry from './0002-connector-registry.js';

/** Every migration, by name in the order they run. A new one is a new file, listed here. */
export const migrations: Record<string, Migration> = {
  '0001-initial-schema': initialSchema,
  '0002-connector-registry': connectorRegistry,
};
