import type { Kysely } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { currentProvinceCode, type CodeSet } from '../../config/provinces.js';
import { createConnector } from '../../connectors/plugins.js';
import type { Connector } from '../../connectors/sdk/connector.js';
import { findConnector, type ConnectorRow } from '../../db/queries/connectors.js';
import { findWebhookSecrets } from '../../db/queries/webhook-secrets.js';
import type { Database } from '../../db/schema.js';
import { connectorSettings } from '../control-plane/connector-registry.js';
import { SecretUnreadableError, type SecretBox } from './secret-box.js';

/** A secret a delivery may be signed with, ready to verify. */
export interface Verifier {
  webhook: Webhook;
  /** Epoch ms the secret stops being accepted (end of a rotation's grace period); null for the current one. */
  expiresAt: number | null;
}

/** Everything the gateway needs to take a connector's deliveries. */
export interface Receiver {
  connectorId: string;
  /** The connector's current (2025) province: its queue and metric label. */
  provinceCode: string;
  /** The connector's province in its own code set, as its definition says. */
  sourceProvinceCode: string;
  sourceCodeSet: CodeSet;
  kind: string;
  state: ConnectorRow['state'];
  /** The connector (its `map` and `webhookItems`); null when it cannot be built here (`buildError` says why). */
  connector: Connector | null;
  buildError: string | null;
  /** The secrets accepted now; empty when none was ever issued. */
  verifiers: Verifier[];
  /** Why the secrets could not be opened (a key not in SECRETS_KEYS), or null. */
  secretError: string | null;
  /** When this was read from Postgres (epoch ms). */
  loadedAt: number;
}

/** Options of the cache. */
export interface WebhookReceiversOptions {
  /** How long a connector and its decrypted secrets are reused before Postgres is asked again. Default 5000 ms. */
  ttlMs?: number;
  /** Connectors (known or not) remembered at most; the oldest are dropped. Default 10,000. */
  maxEntries?: number;
}

interface Entry {
  value: Promise<Receiver | null>;
  loadedAt: number;
}

interface Built {
  stamp: string;
  connector: Connector | null;
  error: string | null;
}

/**
 * The connectors that can receive webhooks, with their decrypted secrets, cached for a few seconds so a delivery
 * costs no Postgres round trip while a rotation or a pause still takes effect within `ttlMs`. Secrets live
 * only in this process's memory, as verifiers; they are never logged. Unknown ids are cached too, so a flood
 * of made-up ids does not become a flood of queries.
 */
export class WebhookReceivers {
  private readonly entries = new Map<string, Entry>();
  /** Built connectors, rebuilt only when their definition changes. */
  private readonly built = new Map<string, Built>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
    options: WebhookReceiversOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  /** The connector `id` (null: no such connector), from the cache when fresh enough. */
  async get(id: string): Promise<Receiver | null> {
    const entry = this.entries.get(id);
    if (entry && Date.now() - entry.loadedAt < this.ttlMs) return entry.value;
    return this.load(id);
  }

  /** Reads the connector again unless it was read less than `minAgeMs` ago (a secret rotated a moment ago). */
  async refresh(id: string, minAgeMs: number): Promise<Receiver | null> {
    const entry = this.entries.get(id);
    if (entry && Date.now() - entry.loadedAt < minAgeMs) return entry.value;
    return this.load(id);
  }

  /** Whether `id` is a connector this cache knows of right now (no query): bounds metric labels. */
  isKnown(id: string): boolean {
    return this.entries.has(id) && this.built.has(id);
  }

  private load(id: string): Promise<Receiver | null> {
    const loadedAt = Date.now();
    const value = this.read(id, loadedAt);
    // A failed read (Postgres down) is not cached: the next delivery asks again.
    value.catch(() => {
      if (this.entries.get(id)?.value === value) this.entries.delete(id);
    });
    this.entries.delete(id);
    this.entries.set(id, { value, loadedAt });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }

  private async read(id: string, loadedAt: number): Promise<Receiver | null> {
    const row = await findConnector(this.db, id);
    if (!row) {
      this.built.delete(id);
      return null;
    }
    const { connector, error } = this.build(row);
    let verifiers: Verifier[] = [];
    let secretError: string | null = null;
    try {
      verifiers = (await findWebhookSecrets(this.db, id)).map((secret) => ({
        webhook: new Webhook(this.box.open(secret.sealed, id)),
        expiresAt: secret.expiresAt === null ? null : secret.expiresAt.getTime(),
      }));
    } catch (failure) {
      if (!(failure instanceof SecretUnreadableError)) throw failure;
      secretError = failure.message;
    }
    return {
      connectorId: row.id,
      provinceCode: currentProvinceCode(row.province_code, row.code_set as CodeSet),
      sourceProvinceCode: row.province_code,
      sourceCodeSet: row.code_set as CodeSet,
      kind: row.kind,
      state: row.state,
      connector,
      buildError: error,
      verifiers,
      secretError,
      loadedAt,
    };
  }

  private build(row: ConnectorRow): Built {
    const stamp = `${row.kind}\u0000${JSON.stringify(row.config)}\u0000${row.province_code}\u0000${row.code_set}`;
    const known = this.built.get(row.id);
    if (known && known.stamp === stamp) return known;
    let built: Built;
    try {
      built = { stamp, connector: createConnector(connectorSettings(row)), error: null };
    } catch (error) {
      // Connector messages name settings and environment variables, never a secret's value.
      built = { stamp, connector: null, error: error instanceof Error ? error.message : String(error) };
    }
    this.built.set(row.id, built);
    if (this.built.size > this.maxEntries) this.built.delete(this.built.keys().next().value!);
    return built;
  }
}
