import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** SECRETS_KEYS (or SECRETS_KEY) is not set where a webhook secret must be sealed or opened. */
export class MissingSecretsKeyError extends Error {
  override readonly name = 'MissingSecretsKeyError';
  constructor(what: string) {
    super(
      `${what}: SECRETS_KEY is not set (nor SECRETS_KEYS, the list used during a key rotation); expected 32 random bytes in base64 (e.g. from: openssl rand -base64 32), the same on every gateway and on the host running fleet`,
    );
  }
}

/** A sealed secret that does not open: another key sealed it, or the row was altered. */
export class SecretUnreadableError extends Error {
  override readonly name: string = 'SecretUnreadableError';
}

/** A sealed secret whose key (named by its id, never the key) is not among the configured ones. */
export class SecretKeyNotConfiguredError extends SecretUnreadableError {
  override readonly name = 'SecretKeyNotConfiguredError';
  constructor(
    readonly keyId: string,
    connectorId: string,
  ) {
    super(
      `a webhook secret of connector ${connectorId} was sealed with the key ${keyId}, which is not in SECRETS_KEYS; add that key back (after the newest) until fleet secrets rekey has re-sealed it`,
    );
  }
}

const nonceLength = 12;
const tagLength = 16;
const keyIdLength = 8;
/**
 * Marks the sealed form that names its key: `dsk2`, the key id (8 bytes), then nonce, tag and ciphertext as in
 * the first form (which starts straight with the nonce, so it is read when the mark or key id does not open).
 */
const keyedMark = Buffer.from('dsk2', 'ascii');
const keyedHeaderLength = keyedMark.length + keyIdLength;

/** The id of a key: hex of the first 8 bytes of its SHA-256. Names a key in rows and messages; reveals nothing. */
export function secretsKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest().subarray(0, keyIdLength).toString('hex');
}

/** The key id a sealed secret names, or null for the first form (sealed before keys had ids). */
export function sealedKeyId(sealed: Buffer): string | null {
  if (sealed.length <= keyedHeaderLength + nonceLength + tagLength) return null;
  if (!sealed.subarray(0, keyedMark.length).equals(keyedMark)) return null;
  return sealed.subarray(keyedMark.length, keyedHeaderLength).toString('hex');
}

/** The keys of a configuration, newest first: SECRETS_KEYS split at commas, or SECRETS_KEY alone. */
export function configuredSecretsKeys(config: { SECRETS_KEY?: string | undefined; SECRETS_KEYS?: string | undefined }) {
  if (config.SECRETS_KEYS) return config.SECRETS_KEYS.split(',').map((key) => key.trim());
  return config.SECRETS_KEY ? [config.SECRETS_KEY] : [];
}

interface Key {
  id: string;
  bytes: Buffer;
}

/**
 * Seals and opens the connectors' webhook secrets with AES-256-GCM. Seals with the newest configured key and
 * names it in the sealed form; opens with the key so named, and a secret of the first (unnamed) form with
 * whichever configured key's tag verifies. Each secret is bound to its connector (the id is the associated data),
 * so a sealed value moved to another connector does not open.
 */
export class SecretBox {
  private readonly keys: Key[];

  /** `keys`: base64 keys of 32 bytes, newest first (one key alone is a list of one). */
  constructor(keys: string | readonly string[]) {
    const list = typeof keys === 'string' ? [keys] : keys;
    if (list.length === 0) throw new Error('SECRETS_KEYS: expected at least one key');
    this.keys = list.map((base64, index) => {
      const bytes = Buffer.from(base64, 'base64');
      if (bytes.length !== 32) throw new Error(`SECRETS_KEYS: key ${index + 1}: expected 32 bytes in base64`);
      return { id: secretsKeyId(bytes), bytes };
    });
  }

  /** The box of the configured keys, or null when neither SECRETS_KEYS nor SECRETS_KEY is set. */
  static fromConfig(config: { SECRETS_KEY?: string | undefined; SECRETS_KEYS?: string | undefined }): SecretBox | null {
    const keys = configuredSecretsKeys(config);
    return keys.length > 0 ? new SecretBox(keys) : null;
  }

  /** The id of the key new secrets are sealed with. */
  get newestKeyId(): string {
    return this.keys[0]!.id;
  }

  /** The ids of every configured key, newest first. */
  get keyIds(): string[] {
    return this.keys.map((key) => key.id);
  }

  /** Seals under the newest key, in the form that names it. */
  seal(secret: string, connectorId: string): Buffer {
    const key = this.keys[0]!;
    const nonce = randomBytes(nonceLength);
    const cipher = createCipheriv('aes-256-gcm', key.bytes, nonce, { authTagLength: tagLength });
    cipher.setAAD(associatedData(connectorId));
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return Buffer.concat([keyedMark, Buffer.from(key.id, 'hex'), nonce, cipher.getAuthTag(), ciphertext]);
  }

  /** Opens a sealed secret; throws SecretKeyNotConfiguredError or SecretUnreadableError, naming no secret. */
  open(sealed: Buffer, connectorId: string): string {
    const keyId = sealedKeyId(sealed);
    if (keyId !== null) {
      const key = this.keys.find((candidate) => candidate.id === keyId);
      const opened = key ? tryOpen(key.bytes, sealed.subarray(keyedHeaderLength), connectorId) : null;
      if (opened !== null) return opened;
    }
    // The first form; or, once in 2^32, a first-form nonce that happens to start like the mark.
    for (const key of this.keys) {
      const opened = tryOpen(key.bytes, sealed, connectorId);
      if (opened !== null) return opened;
    }
    if (keyId !== null && !this.keys.some((key) => key.id === keyId))
      throw new SecretKeyNotConfiguredError(keyId, connectorId);
    throw new SecretUnreadableError(
      `a webhook secret of connector ${connectorId} cannot be decrypted: ${keyId === null ? 'it was sealed before keys had ids, with none of the keys in SECRETS_KEYS' : `the key ${keyId} does not open it`} (or the row was altered); set the key it was sealed with, or run fleet connector rotate-secret ${connectorId}`,
    );
  }
}

function associatedData(connectorId: string): Buffer {
  return Buffer.from(`webhook-secret:${connectorId}`, 'utf8');
}

/** Nonce, tag, ciphertext opened under `key`; null when the tag does not verify. */
function tryOpen(key: Buffer, sealed: Buffer, connectorId: string): string | null {
  if (sealed.length < nonceLength + tagLength) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, nonceLength), {
      authTagLength: tagLength,
    });
    decipher.setAAD(associatedData(connectorId));
    decipher.setAuthTag(sealed.subarray(nonceLength, nonceLength + tagLength));
    return Buffer.concat([decipher.update(sealed.subarray(nonceLength + tagLength)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    return null;
  }
}

/** A new Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}
