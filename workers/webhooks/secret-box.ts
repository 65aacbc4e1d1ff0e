import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** SECRETS_KEY is not set where a webhook secret must be sealed or opened. */
export class MissingSecretsKeyError extends Error {
  override readonly name = 'MissingSecretsKeyError';
  constructor(what: string) {
    super(
      `${what}: SECRETS_KEY is not set; expected 32 random bytes in base64 (e.g. from: openssl rand -base64 32), the same on every gateway and on the host running fleet`,
    );
  }
}

/** A sealed secret that does not open: another SECRETS_KEY sealed it, or the row was altered. */
export class SecretUnreadableError extends Error {
  override readonly name = 'SecretUnreadableError';
}

const nonceLength = 12;
const tagLength = 16;

/**
 * Seals and opens the connectors' webhook secrets with AES-256-GCM under SECRETS_KEY. Each secret is bound to
 * its connector (the id is the associated data), so a sealed value moved to another connector does not open.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(base64Key: string) {
    this.key = Buffer.from(base64Key, 'base64');
    if (this.key.length !== 32) throw new Error('SECRETS_KEY: expected 32 bytes in base64');
  }

  /** The box of the configured key, or null when SECRETS_KEY is unset. */
  static fromConfig(config: { SECRETS_KEY?: string | undefined }): SecretBox | null {
    return config.SECRETS_KEY ? new SecretBox(config.SECRETS_KEY) : null;
  }

  seal(secret: string, connectorId: string): Buffer {
    const nonce = randomBytes(nonceLength);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce, { authTagLength: tagLength });
    cipher.setAAD(Buffer.from(`webhook-secret:${connectorId}`, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return Buffer.concat([nonce, cipher.getAuthTag(), ciphertext]);
  }

  open(sealed: Buffer, connectorId: string): string {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(0, nonceLength), {
        authTagLength: tagLength,
      });
      decipher.setAAD(Buffer.from(`webhook-secret:${connectorId}`, 'utf8'));
      decipher.setAuthTag(sealed.subarray(nonceLength, nonceLength + tagLength));
      return Buffer.concat([decipher.update(sealed.subarray(nonceLength + tagLength)), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new SecretUnreadableError(
        `a webhook secret of connector ${connectorId} cannot be decrypted: it was sealed with another SECRETS_KEY (or altered); set the key it was sealed with, or run fleet connector rotate-secret ${connectorId}`,
      );
    }
  }
}

/** A new Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}
