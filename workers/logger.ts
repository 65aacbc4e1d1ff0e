import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The fleet's structured logger. Log lines carry ids (province, connector, dossier code) and reasons, never
 * records: personal data and secrets are kept out by never passing them, and `redact` is a second fence for
 * the header and config names that could hold a secret.
 */
export function createLogger(level: string, name = 'fleet'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        '*.apiKey',
        '*.password',
        '*.secret',
        '*.authorization',
        '*.headers.authorization',
        '*.headers["x-api-key"]',
        'req.headers.authorization',
      ],
      censor: '[redacted]',
    },
  });
}
