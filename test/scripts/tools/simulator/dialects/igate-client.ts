import type {
  IgateDossierItem,
  IgateDossierPage,
} from '../../../../../scripts/tools/simulator/dialects/igate-dialect.js';

/**
 * An access token from `POST /igate/oauth/token`, with the client in the form body; fails the test on anything but 200.
 */
export async function fetchIgateToken(
  baseUrl: string,
  clientId = 'sync-client',
  clientSecret = 'sync-secret',
): Promise<string> {
  const response = await requestIgateToken(baseUrl, {
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: clientSecret,
  });
  if (response.status !== 200) throw new Error(`expected 200, got ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** A raw token request with a form-encoded body. */
export function requestIgateToken(
  baseUrl: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${baseUrl}/igate/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

/** A raw dossier request; `token` null sends no Authorization header. */
export function requestIgateDossiers(
  baseUrl: string,
  province: string,
  query: Record<string, string>,
  token: string | null,
): Promise<Response> {
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  return fetch(`${baseUrl}/igate/api/v1/provinces/${province}/dossiers?${new URLSearchParams(query)}`, { headers });
}

/** One page; fails the test on anything but 200. */
export async function fetchIgatePage(
  baseUrl: string,
  province: string,
  query: Record<string, string>,
  token: string | null,
): Promise<IgateDossierPage> {
  const response = await requestIgateDossiers(baseUrl, province, query, token);
  if (response.status !== 200) throw new Error(`expected 200, got ${response.status}: ${await response.text()}`);
  return (await response.json()) as IgateDossierPage;
}

/**
 * Reads a province to the end, by page number or by offset, until a page comes back short. Returns every
 * item and every page's metadata, in order.
 */
export async function readAllIgate(
  baseUrl: string,
  province: string,
  options: { by: 'page' | 'offset'; size: number; token: string | null; updatedFrom?: string },
): Promise<{ items: IgateDossierItem[]; pages: IgateDossierPage['page'][] }> {
  const items: IgateDossierItem[] = [];
  const pages: IgateDossierPage['page'][] = [];
  for (let number = 0; ; number++) {
    const query: Record<string, string> =
      options.by === 'page'
        ? { page: String(number), size: String(options.size) }
        : { offset: String(number * options.size), limit: String(options.size) };
    if (options.updatedFrom !== undefined) query.updatedFrom = options.updatedFrom;
    const page = await fetchIgatePage(baseUrl, province, query, options.token);
    items.push(...page.content);
    pages.push(page.page);
    if (page.content.length < options.size) return { items, pages };
  }
}
