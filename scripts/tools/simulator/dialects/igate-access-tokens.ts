import { randomBytes } from 'node:crypto';

/**
 * The OAuth2 access tokens igate has issued and until when each is good. In memory, like a real gateway's
 * token cache: a restarted simulator forgets them, and clients must fetch new ones.
 */
export class IgateAccessTokens {
  /** Token → expiry (epoch ms). One lifetime for all, so insertion order is expiry order. */
  private readonly expiries = new Map<string, number>();

  constructor(private readonly ttlSeconds: number) {}

  /** A new random token, good for the configured lifetime from now. */
  issue(): string {
    this.forgetExpired();
    const token = randomBytes(24).toString('base64url');
    this.expiries.set(token, Date.now() + this.ttlSeconds * 1000);
    return token;
  }

  /** True for a token this server issued that has not expired yet. */
  isValid(token: string): boolean {
    const expiry = this.expiries.get(token);
    return expiry !== undefined && Date.now() < expiry;
  }

  /** Drops expired tokens from the front, so a long rehearsal that refreshes often does not grow the map. */
  private forgetExpired(): void {
    const now = Date.now();
    for (const [token, expiry] of this.expiries) {
      if (expiry > now) return;
      this.expiries.delete(token);
    }
  }
}
