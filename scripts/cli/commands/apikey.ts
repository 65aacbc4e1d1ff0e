import type { Config } from '../../../config/env.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import {
  createApiKey,
  listApiKeys,
  revokeApiKey,
  type ApiKeyScope,
} from '../../../workers/control-plane/api-key-store.js';
import { apiKeyListView } from '../../../workers/control-plane/api-key-view.js';
import { currentProvince } from '../../../config/provinces.js';
import { keyNameProblem, keyProvinceList, keyProvinceProblems } from '../../../workers/control-plane/api-key-rules.js';
import { NotFoundError, UsageError } from '../cli-errors.js';
import { formatTable, formatTime, withDatabase } from '../cli-output.js';
import { printView, type OutputFormat } from '../output-format.js';

// `fleet apikey create|list|revoke`: keys of the admin and read APIs. A key is printed once, at creation;
// only its SHA-256 hash is stored.

/** The `--province` list: current (2025) codes, comma-separated (`keyProvinceProblems` says what is wrong). */
export function keyProvinces(text: string): string[] {
  const codes = text.split(',').map((code) => code.trim());
  const wrong = keyProvinceProblems(codes);
  if (wrong.length > 0)
    throw new UsageError(
      `fleet apikey create: --province ${text}: ${wrong.join('; ')}; expected current (2025) codes, comma-separated, e.g. 24,48 (config/provinces.json lists them)`,
    );
  return keyProvinceList(codes);
}

/**
 * `fleet apikey create --name N --scope admin|portal:read [--province 24,48]`: prints a line of context, then the
 * key alone on the last line.
 */
export async function apiKeyCreate(
  config: Config,
  options: { name: string; scope: ApiKeyScope; province?: string },
): Promise<void> {
  const name = options.name.trim();
  const wrongName = keyNameProblem(name);
  if (wrongName) throw new UsageError(`fleet apikey create: --name ${JSON.stringify(options.name)}: ${wrongName}`);
  const provinces = options.province === undefined ? null : keyProvinces(options.province);
  const { id, key } = await withDatabase(config, (db) =>
    createApiKey(db, name, options.scope, { actor: cliActor(), provinces }),
  );
  const reach = provinces === null ? 'national' : `bound to ${provincesText(provinces)}`;
  console.log(
    `created API key ${id} "${name}" with scope ${options.scope}, ${reach}; it is shown this once and only its hash is stored, so keep it now:`,
  );
  console.log(key);
}

/** "province 24 (Bắc Ninh)", "provinces 24 (Bắc Ninh), 48 (Đà Nẵng)". */
function provincesText(codes: readonly string[]): string {
  const named = codes.map((code) => `${code} (${currentProvince(code)!.name})`);
  return `${named.length === 1 ? 'province' : 'provinces'} ${named.join(', ')}`;
}

/** `fleet apikey list`: every key, never the key itself. */
export async function apiKeyList(config: Config, options: { output?: OutputFormat } = {}): Promise<void> {
  const keys = await withDatabase(config, (db) => listApiKeys(db));
  printView(apiKeyListView(keys), options.output, () =>
    keys.length === 0
      ? 'no API keys; create one with: fleet apikey create --name NAME --scope admin|portal:read [--province CODES]'
      : formatTable(
          ['ID', 'NAME', 'SCOPE', 'PROVINCES', 'CREATED', 'LAST USED', 'REVOKED'],
          keys.map((key) => [
            String(key.id),
            key.name,
            key.scope,
            key.provinces === null ? 'national' : key.provinces.join(','),
            formatTime(key.created_at),
            formatTime(key.last_used_at),
            formatTime(key.revoked_at),
          ]),
        ),
  );
}

/** `fleet apikey revoke ID`: the key stops working at once. */
export async function apiKeyRevoke(config: Config, id: string): Promise<void> {
  if (!/^[1-9]\d{0,17}$/.test(id))
    throw new UsageError(
      `fleet apikey revoke: ${JSON.stringify(id)} is not a key id; expected the number fleet apikey list shows`,
    );
  const key = await withDatabase(config, (db) => revokeApiKey(db, id, { actor: cliActor() }));
  if (!key)
    throw new NotFoundError(`fleet apikey revoke: there is no API key ${id}; expected an id fleet apikey list shows`);
  if (key.revoked_at !== null)
    console.log(`API key ${id} "${key.name}" was already revoked at ${formatTime(key.revoked_at)}; nothing changed`);
  else console.log(`revoked API key ${id} "${key.name}" (${key.scope}): it is refused from now on`);
}
