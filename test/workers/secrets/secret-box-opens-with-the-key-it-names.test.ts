import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../config/env.js';
import {
  generateWebhookSecret,
  SecretBox,
  SecretKeyNotConfiguredError,
  secretsKeyId,
  SecretUnreadableError,
  sealedKeyId,
} from '../../../workers/webhooks/secret-box.js';

// A sealed webhook secret names the key it was sealed with (an id derived from the key, never the key), so a
// list of keys can be configured during a rotation: the newest seals, the named one opens, and a secret sealed
// before keys had ids opens with whichever key's tag verifies. A failure names the key id, never a secret.

const [keyA, keyB, keyC] = [0, 1, 2].map(() => randomBytes(32).toString('base64')) as [string, string, string];
const idOf = (key: string) => secretsKeyId(Buffer.from(key, 'base64'));

/** The first sealed form (before key ids): nonce, tag, ciphertext under `key`. */
function sealedTheFirstWay(key: string, secret: string, connectorId: string): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(key, 'base64'), nonce, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(`webhook-secret:${connectorId}`, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), ciphertext]);
}

function failure(open: () => unknown): Error {
  try {
    open();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the secret not to open');
}

describe('SecretBox with a list of keys', () => {
  it('seals with the newest key, naming its id: the first 8 bytes of its SHA-256 in hex', () => {
    const secret = generateWebhookSecret();
    const sealed = new SecretBox([keyB, keyA]).seal(secret, 'c-01');
    const expectedId = createHash('sha256').update(Buffer.from(keyB, 'base64')).digest().subarray(0, 8).toString('hex');
    expect(new SecretBox([keyB, keyA]).newestKeyId).toBe(expectedId);
    expect(sealedKeyId(sealed)).toBe(expectedId);
    expect(sealed.toString('latin1')).not.toContain(secret);
    expect(sealed.toString('latin1')).not.toContain(Buffer.from(keyB, 'base64').toString('latin1'));
    expect(new SecretBox([keyB, keyA]).open(sealed, 'c-01')).toBe(secret);
    expect(new SecretBox([keyA, keyB]).open(sealed, 'c-01')).toBe(secret);
    expect(new SecretBox(keyB).open(sealed, 'c-01')).toBe(secret);
  });

  it('opens the first, id-less form with whichever configured key sealed it', () => {
    const secret = generateWebhookSecret();
    const sealed = sealedTheFirstWay(keyA, secret, 'c-02');
    expect(sealedKeyId(sealed)).toBeNull();
    expect(new SecretBox(keyA).open(sealed, 'c-02')).toBe(secret);
    expect(new SecretBox([keyB, keyA]).open(sealed, 'c-02')).toBe(secret);
    expect(new SecretBox([keyC, keyB, keyA]).open(sealed, 'c-02')).toBe(secret);
  });

  it('names the key id of a secret whose key is not configured, and never a secret or a key', () => {
    const secret = generateWebhookSecret();
    const sealed = new SecretBox([keyA]).seal(secret, 'c-03');
    const error = failure(() => new SecretBox([keyB, keyC]).open(sealed, 'c-03'));
    expect(error).toBeInstanceOf(SecretKeyNotConfiguredError);
    expect(error).toBeInstanceOf(SecretUnreadableError);
    expect(error.message).toContain(idOf(keyA));
    expect(error.message).toContain('c-03');
    for (const hidden of [secret, keyA, keyB, keyC]) expect(error.message).not.toContain(hidden);
  });

  it('refuses an id-less secret no configured key opens, and an altered or moved one, without a secret', () => {
    const secret = generateWebhookSecret();
    const first = failure(() => new SecretBox([keyB]).open(sealedTheFirstWay(keyA, secret, 'c-04'), 'c-04'));
    expect(first).toBeInstanceOf(SecretUnreadableError);
    expect(first.message).toMatch(/sealed before keys had ids/);

    const sealed = new SecretBox([keyA]).seal(secret, 'c-04');
    const altered = Buffer.from(sealed);
    altered[altered.length - 1]! ^= 1;
    const tampered = failure(() => new SecretBox([keyA]).open(altered, 'c-04'));
    expect(tampered).toBeInstanceOf(SecretUnreadableError);
    expect(tampered).not.toBeInstanceOf(SecretKeyNotConfiguredError);
    expect(tampered.message).toContain(`the key ${idOf(keyA)} does not open it`);
    // Bound to its connector: the same bytes under another connector do not open.
    expect(failure(() => new SecretBox([keyA]).open(sealed, 'c-05'))).toBeInstanceOf(SecretUnreadableError);
    for (const error of [first, tampered])
      for (const hidden of [secret, keyA, keyB]) expect(error.message).not.toContain(hidden);
  });

  it('is built from SECRETS_KEYS (newest first) or SECRETS_KEY alone', () => {
    expect(SecretBox.fromConfig({ SECRETS_KEYS: `${keyB},${keyA}` })!.keyIds).toEqual([idOf(keyB), idOf(keyA)]);
    expect(SecretBox.fromConfig({ SECRETS_KEY: keyA })!.keyIds).toEqual([idOf(keyA)]);
    expect(SecretBox.fromConfig({})).toBeNull();
  });
});

describe('SECRETS_KEYS in the configuration', () => {
  function configError(env: Record<string, string>): ConfigError {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error('expected a ConfigError');
  }

  it('accepts a list of keys, with spaces after the commas', () => {
    expect(loadConfig({ SECRETS_KEYS: `${keyB}, ${keyA}` }).SECRETS_KEYS).toBe(`${keyB}, ${keyA}`);
    expect(SecretBox.fromConfig(loadConfig({ SECRETS_KEYS: `${keyB}, ${keyA}` }))!.keyIds).toEqual([
      idOf(keyB),
      idOf(keyA),
    ]);
  });

  it('names the position of a bad key without echoing any key', () => {
    const value = `${keyB},${keyA.slice(0, 30)},${keyC}`;
    const error = configError({ SECRETS_KEYS: value });
    expect(error.message).toBe(
      `config: SECRETS_KEYS=(hidden, ${value.length} characters) is invalid: key 2 of 3 is not 32 random bytes in base64 (44 characters, e.g. from: openssl rand -base64 32); expected the keys newest first, separated by commas`,
    );
    expect(configError({ SECRETS_KEYS: `${keyB},` }).message).toMatch(/key 2 of 2 is not/);
    expect(configError({ SECRETS_KEYS: `${keyA},${keyA}` }).message).toMatch(/a key is listed twice/);
    for (const message of [error.message, configError({ SECRETS_KEYS: `${keyA},${keyA}` }).message])
      for (const key of [keyA, keyB, keyC]) expect(message).not.toContain(key);
  });

  it('refuses SECRETS_KEY and SECRETS_KEYS together', () => {
    const error = configError({ SECRETS_KEY: keyA, SECRETS_KEYS: `${keyB},${keyA}` });
    expect(error.message).toMatch(/^config: SECRETS_KEY and SECRETS_KEYS are both set; expected one of them/);
    for (const key of [keyA, keyB]) expect(error.message).not.toContain(key);
  });
});
