import { readPath } from '../../connectors/declarative/json-path.js';
import { WebhookBodyError, type Connector } from '../../connectors/sdk/connector.js';
import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import { MappedPaths } from '../../connectors/sdk/mapped-paths.js';
import { MappingError } from '../../connectors/sdk/mapping-error.js';
import {
  mapItems,
  toDeadLetter,
  type DeadLetter,
  type MappedBatch,
  type MappingContext,
} from '../../connectors/sdk/normalise.js';
import { normaliseText } from '../../connectors/sdk/text.js';
import { refusal, type DeliveryRefused } from './delivery-outcome.js';
import { findPrototypeKey, type PrototypeKeyPlace } from './prototype-keys.js';
import { JsonBodyError, parseStrictJson } from './strict-json.js';

/** The updates of an authentic body, as the connector finds them in it. */
export interface DeliveryUpdates {
  /** The body, parsed. */
  document: unknown;
  /** The updates the connector finds in it (`webhookItems`). */
  items: unknown[];
  /** Whether the body holds a `__proto__`, `constructor` or `prototype` key anywhere. */
  hasPrototypeKeys: boolean;
}

/** A delivery's updates mapped: records, dead letters, and one line per dead letter for the sender. */
export interface MappedUpdates {
  records: DossierRecord[];
  deadLetters: DeadLetter[];
  /** `$[1] (dossier …): reason: message`, at most `maxProblemLines`, then how many more. */
  problems: string[];
}

/** Per-update problems listed in an answer at most; the rest are counted. */
const maxProblemLines = 100;

const prototypeKeyRule = "no dossier field is named so, and in JavaScript such a key reaches an object's prototype";

/**
 * Parses an authentic body strictly and finds its updates with the connector; `body_unparseable` when it is not
 * JSON, holds no updates where the connector expects them, or holds a prototype key outside every update.
 */
export function readUpdates(connector: Connector, body: Buffer, maxDepth: number): DeliveryUpdates | DeliveryRefused {
  let parsed;
  try {
    parsed = parseStrictJson(body.toString('utf8').replace(/^\uFEFF/, ''), maxDepth);
  } catch (error) {
    if (error instanceof JsonBodyError) return refusal('body_unparseable', error.message);
    throw error;
  }
  const { value: document, hasPrototypeKeys } = parsed;
  let items: unknown[];
  try {
    items = connector.webhookItems!(document);
  } catch (error) {
    if (error instanceof WebhookBodyError) return refusal('body_unparseable', error.message);
    throw error;
  }
  if (hasPrototypeKeys) {
    // A prototype key inside an update makes that update a dead letter (mapUpdates); one around the updates
    // belongs to no update, so the delivery as a whole is refused.
    const outside = findPrototypeKey(document, new Set(items));
    if (outside) {
      return refusal(
        'body_unparseable',
        `the body is valid JSON, but it holds the key ${JSON.stringify(outside.key)} at $${outside.path.startsWith('[') ? '' : '.'}${outside.path}, outside the updates: ${prototypeKeyRule}, so nothing of the delivery was taken; remove the key and send it again`,
      );
    }
  }
  return { document, items, hasPrototypeKeys };
}

/** Maps each update on its own, so a bad one costs only itself; an update holding a prototype key is never mapped. */
export function mapUpdates(connector: Connector, updates: DeliveryUpdates, mapping: MappingContext): MappedUpdates {
  const { document, items, hasPrototypeKeys } = updates;
  const records: DossierRecord[] = [];
  const deadLetters: DeadLetter[] = [];
  const problems: string[] = [];
  items.forEach((item, index) => {
    const place = hasPrototypeKeys ? findPrototypeKey(item) : null;
    // Such an update never reaches the connector's `map`: it is kept as it came (redacted), with its reason.
    const mapped: MappedBatch = place
      ? { records: [], deadLetters: [prototypeKeyLetter(connector, item, place, mapping)] }
      : mapItems(connector, [item], mapping);
    records.push(...mapped.records);
    for (const letter of mapped.deadLetters) {
      deadLetters.push(letter);
      if (problems.length < maxProblemLines) {
        problems.push(
          `${items.length > 1 || Array.isArray(document) ? `$[${index}]` : '$'}${letter.dossierCode ? ` (dossier ${letter.dossierCode})` : ''}: ${letter.reason}: ${letter.message}`,
        );
      }
    }
  });
  if (deadLetters.length > maxProblemLines) problems.push(`… and ${deadLetters.length - maxProblemLines} more`);
  return { records, deadLetters, problems };
}

/**
 * The dead letter of an update holding a prototype key: `malformed_record`, naming the key and where it is,
 * and the dossier when the update's code can be read (own properties only, at the path the connector maps it from).
 */
function prototypeKeyLetter(
  connector: Connector,
  item: unknown,
  place: PrototypeKeyPlace,
  mapping: MappingContext,
): DeadLetter {
  const codePath = connector.mappedFields().find((source) => source.field === 'dossierCode')?.path;
  const code = codePath === undefined ? undefined : readPath(item, codePath);
  const dossierCode = typeof code === 'string' ? normaliseText(code) : null;
  const message = `the update holds the key ${JSON.stringify(place.key)} (at ${place.path}), which is refused: ${prototypeKeyRule}; the update was not applied: remove the key at the source`;
  return toDeadLetter(
    new MappingError('malformed_record', message, dossierCode && dossierCode.length <= 100 ? dossierCode : null),
    item,
    mapping,
    mapping.observedAt.toISOString(),
    MappedPaths.of(connector),
  );
}
