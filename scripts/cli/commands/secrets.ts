import type { Config } from '../../../config/env.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { countWebhookSecretsByKey } from '../../../db/queries/rekey-webhook-secrets.js';
import { rekeyWebhookSecrets, type RekeySummary } from '../../../workers/control-plane/secrets-rekey.js';
import { MissingSecretsKeyError, SecretBox } from '../../../workers/webhooks/secret-box.js';
import { exitCodes, UsageError } from '../cli-errors.js';
import { formatTable, withDatabase } from '../cli-output.js';
import { printView, type OutputFormat } from '../output-format.js';
import { Progress, type ProgressStream } from '../progress.js';

// `fleet secrets rekey` and `fleet secrets status`: rotating the master key (SECRETS_KEYS, newest first) under the
// stored webhook secrets. The secrets themselves do not change; vendors see nothing.

function boxOf(config: Config, verb: string): SecretBox {
  const box = SecretBox.fromConfig(config);
  if (!box)
    throw new UsageError(
      `fleet secrets ${verb}: ${new MissingSecretsKeyError('cannot open the webhook secrets').message}`,
    );
  return box;
}

/** What `fleet secrets rekey -o json` prints. */
export type SecretsRekeyView = RekeySummary;

/**
 * `fleet secrets rekey [--batch 100]`: re-seals every stored webhook secret not sealed with the newest key of
 * SECRETS_KEYS, a batch per transaction, and prints what it did. SIGINT or SIGTERM stops it between batches; a run
 * stopped or killed is finished by the next. Exit 1 when a secret no configured key opens is left behind.
 */
export async function secretsRekey(
  config: Config,
  options: { batch: number; output?: OutputFormat },
  stream: ProgressStream = process.stderr,
): Promise<void> {
  const box = boxOf(config, 'rekey');
  const progress = new Progress(stream);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let summary: RekeySummary;
  try {
    summary = await withDatabase(config, (db) =>
      rekeyWebhookSecrets(db, box, {
        actor: cliActor(),
        batchSize: options.batch,
        signal: stop.signal,
        onBatch: ({ rekeyed, unreadable, toRekey }) =>
          progress.update(
            `rekeying to key ${box.newestKeyId}: ${rekeyed}/${toRekey}${unreadable > 0 ? `, ${unreadable} unreadable` : ''}`,
          ),
      }),
    );
  } finally {
    progress.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  printView(summary, options.output, (view) => [
    ...view.unreadable.map((row) => `unreadable: secret ${row.id} of connector ${row.connectorId}: ${row.reason}`),
    `${view.stopped ? 'stopped (run again to finish): ' : ''}rekeyed ${view.rekeyed} webhook secrets to key ${view.newestKeyId}, ${view.alreadyNewest} already on it, ${view.unreadable.length} unreadable with the configured keys`,
  ]);
  if (summary.unreadable.length > 0 || summary.stopped) process.exitCode = exitCodes.failed;
}

/** What `fleet secrets status -o json` prints. */
export interface SecretsStatusView {
  newestKeyId: string;
  keys: { keyId: string | null; configured: boolean; newest: boolean; secrets: number }[];
}

/**
 * `fleet secrets status`: how many stored webhook secrets each key seals, so an operator sees when an old key
 * seals none and can leave SECRETS_KEYS.
 */
export async function secretsStatus(config: Config, options: { output?: OutputFormat }): Promise<void> {
  const box = boxOf(config, 'status');
  const counts = await withDatabase(config, (db) => countWebhookSecretsByKey(db));
  const configured = box.keyIds;
  const keys = [
    ...counts.map((row) => ({
      keyId: row.keyId,
      configured: row.keyId !== null && configured.includes(row.keyId),
      newest: row.keyId === box.newestKeyId,
      secrets: row.secrets,
    })),
    ...configured
      .filter((keyId) => !counts.some((row) => row.keyId === keyId))
      .map((keyId) => ({ keyId, configured: true, newest: keyId === box.newestKeyId, secrets: 0 })),
  ];
  const view: SecretsStatusView = { newestKeyId: box.newestKeyId, keys };
  printView(view, options.output, () => {
    const behind = keys.filter((row) => !row.newest).reduce((sum, row) => sum + row.secrets, 0);
    return [
      formatTable(
        ['KEY', 'IN SECRETS_KEYS', 'SECRETS'],
        keys.map((row) => [
          row.keyId ?? '(no id: sealed before key ids)',
          row.newest ? 'yes, newest' : row.configured ? 'yes' : 'no',
          String(row.secrets),
        ]),
      ),
      behind === 0
        ? `every webhook secret is sealed with the newest key ${box.newestKeyId}: the other keys can leave SECRETS_KEYS`
        : `${behind} webhook secrets are not on the newest key ${box.newestKeyId}: run fleet secrets rekey`,
    ];
  });
}
