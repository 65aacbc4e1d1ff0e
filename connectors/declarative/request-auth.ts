import axios, { type AxiosInstance, type InternalAxiosRequestConfig } from 'axios';
import { lazySecret } from '../sdk/secrets.js';
import { SourceError, toSourceError } from '../sdk/source-error.js';
import type { DeclarativeConfig } from './declarative-config.js';

/** Adds credentials to a request; `refresh` is called once after a 401 and tells whether a retry can help. */
export interface RequestAuth {
  /** Reads the secrets it needs (once); throws SecretUnavailableError naming the one missing. */
  loadSecrets(): void;
  apply(request: InternalAxiosRequestConfig): Promise<void>;
  refresh(): boolean;
}

type AuthSection = DeclarativeConfig['auth'];

/** A cached OAuth2 access token. */
interface Token {
  value: string;
  expiresAt: number;
}

/**
 * OAuth2 client credentials: one token per connector, fetched on first use, cached, renewed before it expires
 * and once more when the system answers 401 (a token revoked or expired early).
 */
class ClientCredentialsAuth implements RequestAuth {
  private token: Token | null = null;
  private pending: Promise<Token> | null = null;
  private readonly secret: () => string;

  constructor(
    private readonly section: Extract<AuthSection, { type: 'oauth2ClientCredentials' }>,
    private readonly http: AxiosInstance,
    private readonly connectorId: string,
  ) {
    this.secret = lazySecret(section.clientSecret, `connector ${connectorId}: auth.clientSecret`);
  }

  loadSecrets(): void {
    this.secret();
  }

  async apply(request: InternalAxiosRequestConfig): Promise<void> {
    const renewAt = (this.token?.expiresAt ?? 0) - this.section.refreshBeforeSeconds * 1000;
    if (!this.token || Date.now() >= renewAt)
      this.token = await (this.pending ??= this.fetchToken().finally(() => (this.pending = null)));
    request.headers.set('Authorization', `Bearer ${this.token.value}`);
  }

  refresh(): boolean {
    this.token = null;
    return true;
  }

  private async fetchToken(): Promise<Token> {
    const { section } = this;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (section.scope) form.set('scope', section.scope);
    if (section.clientAuthentication === 'body') {
      form.set('client_id', section.clientId);
      form.set('client_secret', this.secret());
    }
    const what = `connector ${this.connectorId}: POST ${section.tokenUrl} (OAuth2 token)`;
    let body: { access_token?: unknown; expires_in?: unknown };
    try {
      const response = await this.http.post(section.tokenUrl, form.toString(), {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        ...(section.clientAuthentication === 'basic'
          ? { auth: { username: section.clientId, password: this.secret() } }
          : {}),
      });
      body = response.data as typeof body;
    } catch (error) {
      const failure = toSourceError(error, what);
      if (failure.status === 400 || failure.status === 401) {
        throw new SourceError(
          `${what}: the token endpoint refused the client credentials (HTTP ${failure.status}); check auth.clientId and the secret auth.clientSecret points to`,
          false,
          failure.status,
        );
      }
      throw failure;
    }
    if (typeof body?.access_token !== 'string' || body.access_token === '') {
      throw new SourceError(
        `${what}: the answer has no access_token; expected {"access_token": "...", "expires_in": seconds}`,
        false,
      );
    }
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 300;
    return { value: body.access_token, expiresAt: Date.now() + lifetime * 1000 };
  }
}

/**
 * Builds the auth of a declarative connector. Secrets are read from their references when a read first needs
 * them (`loadSecrets`), then kept: building the connector to map pushed records needs none.
 */
export function createRequestAuth(section: AuthSection, http: AxiosInstance, connectorId: string): RequestAuth {
  const where = (field: string) => `connector ${connectorId}: auth.${field}`;
  switch (section.type) {
    case 'none':
      return { loadSecrets: () => {}, apply: async () => {}, refresh: () => false };
    case 'apiKey': {
      const key = lazySecret(section.key, where('key'));
      return {
        loadSecrets: () => void key(),
        apply: async (request) => {
          if (section.in === 'header') request.headers.set(section.name, key());
          else request.params = { ...(request.params as object), [section.name]: key() };
        },
        refresh: () => false,
      };
    }
    case 'bearer': {
      const token = lazySecret(section.token, where('token'));
      return {
        loadSecrets: () => void token(),
        apply: async (request) => void request.headers.set('Authorization', `Bearer ${token()}`),
        refresh: () => false,
      };
    }
    case 'basic': {
      const password = lazySecret(section.password, where('password'));
      const encoded = () => Buffer.from(`${section.username}:${password()}`).toString('base64');
      return {
        loadSecrets: () => void password(),
        apply: async (request) => void request.headers.set('Authorization', `Basic ${encoded()}`),
        refresh: () => false,
      };
    }
    case 'oauth2ClientCredentials':
      return new ClientCredentialsAuth(
        section,
        axios.create({
          baseURL: http.defaults.baseURL,
          timeout: http.defaults.timeout,
          httpsAgent: http.defaults.httpsAgent,
        }),
        connectorId,
      );
  }
}
