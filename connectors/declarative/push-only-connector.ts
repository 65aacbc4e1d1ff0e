import { itemsAt, type Connector, type ConnectorSettings, type FieldSource } from '../sdk/connector.js';
import type { DossierRecordInput } from '../sdk/dossier-record.js';
import type { PushOnlyConfig } from './declarative-config.js';
import { readPath } from './json-path.js';
import { RecordMapper } from './record-mapper.js';

/**
 * A system that only pushes, described by a definition of `webhook`, `fields` and `statuses`: it maps the updates
 * of a pushed body like a polled definition maps a page. It has no `read` — there is nothing to read — so the
 * framework never polls it (connectors/sdk/connector.ts).
 */
export class PushOnlyConnector implements Connector {
  private readonly mapper: RecordMapper;

  constructor(private readonly settings: ConnectorSettings<PushOnlyConfig>) {
    this.mapper = new RecordMapper(settings.config);
  }

  map(item: unknown): DossierRecordInput {
    return this.mapper.map(item);
  }

  mappedFields(): readonly FieldSource[] {
    return this.mapper.mappedFields();
  }

  /** A pushed body holds one update or a list, at `webhook.recordsPath` (default: the body itself). */
  webhookItems(body: unknown): unknown[] {
    return itemsAt(body, this.settings.config.webhook.recordsPath, readPath);
  }
}
