import type { FastifyInstance } from 'fastify';
import { BadRequestError } from './dossier-query.js';
import { optionalText, type RequestParameters } from './dialects/request-parameters.js';
import { toPortalItem } from './portal-wire-format.js';
import { ListingTooLargeError, type ProvinceSummaries, type SimulatorScope } from './province-summaries.js';
import type { SimulatedDossier } from './simulated-dossier.js';

// The portal dialect's reconciliation endpoints, as connectors/reconcile-summary.openapi.yaml publishes them for
// any province system to implement: a summary of a scope (a digest, or a listing) and the current records of
// named dossiers. Errors are the portal dialect's {code, message} with HTTP 400.

/** The most codes `GET /api/dossiers/by-code` takes in one request (the URL stays well under 8 KB). */
export const maxCodesPerFetch = 200;

/** The most codes `POST /api/dossiers/by-code` takes in one request. */
export const maxCodesPerPostedFetch = 1000;

/** The most scopes `POST /api/dossiers/summaries` takes in one request. */
export const maxScopesPerSummaryRequest = 5000;

/** The most entries the listings of one `POST /api/dossiers/summaries` answer, all scopes together. */
export const maxEntriesPerSummaryRequest = 50_000;

/** The largest body `POST /api/dossiers/summaries` reads: 5,000 scopes with code bounds fit in well under 2 MB. */
const summaryBodyLimit = 2 * 1024 * 1024;

/** What the routes need of one served province. */
export interface ReconcileProvince {
  summaries: ProvinceSummaries;
  byCode: ReadonlyMap<string, SimulatedDossier>;
}

/**
 * Registers `GET /api/dossiers/summary`, `POST /api/dossiers/summaries` (many scopes at once) and
 * `GET` and `POST /api/dossiers/by-code` on the portal dialect's scope.
 */
export function registerPortalReconcileRoutes(
  api: FastifyInstance,
  provinceOf: (provinceCode: string) => ReconcileProvince | undefined,
): void {
  const badRequest = (error: unknown) => {
    if (error instanceof BadRequestError || error instanceof ListingTooLargeError)
      return { code: 'bad_request', message: error.message };
    throw error;
  };

  api.get('/api/dossiers/summary', async (request, reply) => {
    try {
      const query = request.query as RequestParameters;
      const province = requiredProvince(query, provinceOf);
      const scope = parseScope(query, {
        from: 'updatedFrom',
        to: 'updatedTo',
        codeFrom: 'codeFrom',
        codeTo: 'codeTo',
        time: rfc3339,
      });
      const listing = optionalText(query, 'listing');
      if (listing !== null && listing !== 'true' && listing !== 'false')
        throw new BadRequestError('listing must be true or false');
      if (listing === 'true') {
        const entries = province.summaries
          .listing(scope)
          .map(({ dossierCode, sourceVersion, status }) => ({ dossierCode, version: sourceVersion, status }));
        return { count: entries.length, entries };
      }
      return province.summaries.digest(scope);
    } catch (error) {
      return reply.code(400).send(badRequest(error));
    }
  });

  api.post('/api/dossiers/summaries', { bodyLimit: summaryBodyLimit }, async (request, reply) => {
    try {
      const province = requiredProvince(request.query as RequestParameters, provinceOf);
      const { scopes, listing } = parseSummaryRequest(request.body);
      if (!listing) return { summaries: scopes.map((scope) => province.summaries.digest(scope)) };
      let left = maxEntriesPerSummaryRequest;
      const summaries = scopes.map((scope, position) => {
        let entries;
        try {
          entries = province.summaries.listing(scope, left);
        } catch (error) {
          if (!(error instanceof ListingTooLargeError)) throw error;
          throw new ListingTooLargeError(
            `the listings of scopes[0] to scopes[${position}] hold more than ${maxEntriesPerSummaryRequest} dossiers together, too many for one request; ask for fewer or narrower scopes, or for digests`,
          );
        }
        left -= entries.length;
        return {
          count: entries.length,
          entries: entries.map(({ dossierCode, sourceVersion, status }) => ({
            dossierCode,
            version: sourceVersion,
            status,
          })),
        };
      });
      return { summaries };
    } catch (error) {
      return reply.code(400).send(badRequest(error));
    }
  });

  // The same in a POST body: a list of codes, so a code may hold a comma and a request more codes than a URL does.
  api.post('/api/dossiers/by-code', async (request, reply) => {
    try {
      const province = requiredProvince(request.query as RequestParameters, provinceOf);
      const codes = (request.body as { codes?: unknown } | null)?.codes;
      if (
        !Array.isArray(codes) ||
        codes.length === 0 ||
        codes.length > maxCodesPerPostedFetch ||
        !codes.every((code) => typeof code === 'string' && code.trim() !== '')
      )
        throw new BadRequestError(
          `the body must be {"codes": [...]} with 1 to ${maxCodesPerPostedFetch} dossier codes, each non-empty text`,
        );
      return { items: recordsOf(province, [...new Set(codes as string[])]) };
    } catch (error) {
      return reply.code(400).send(badRequest(error));
    }
  });

  api.get('/api/dossiers/by-code', async (request, reply) => {
    try {
      const query = request.query as RequestParameters;
      const province = requiredProvince(query, provinceOf);
      const codes = codeList(query, 'codes');
      return { items: recordsOf(province, codes) };
    } catch (error) {
      return reply.code(400).send(badRequest(error));
    }
  });
}

/** The current records of the codes the province has, in the order asked; one it does not have is absent. */
function recordsOf(province: ReconcileProvince, codes: readonly string[]) {
  return codes.flatMap((code) => {
    const dossier = province.byCode.get(code);
    return dossier ? [toPortalItem(dossier)] : [];
  });
}

/** The province a request names, which must be served here. */
export function requiredProvince<Province>(
  query: RequestParameters,
  provinceOf: (provinceCode: string) => Province | undefined,
): Province {
  const provinceCode = optionalText(query, 'province');
  if (provinceCode === null) throw new BadRequestError('province is required');
  const province = provinceOf(provinceCode);
  if (!province) throw new BadRequestError(`province ${JSON.stringify(provinceCode)} is not served here`);
  return province;
}

/** The body of `POST /api/dossiers/summaries`: 1 to `maxScopesPerSummaryRequest` scopes, and whether to list them. */
function parseSummaryRequest(body: unknown): { scopes: SimulatorScope[]; listing: boolean } {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new BadRequestError('the body must be a JSON object: {"scopes": [...], "listing": false}');
  const { scopes, listing } = body as { scopes?: unknown; listing?: unknown };
  if (listing !== undefined && typeof listing !== 'boolean') throw new BadRequestError('listing must be true or false');
  if (!Array.isArray(scopes) || scopes.length === 0 || scopes.length > maxScopesPerSummaryRequest)
    throw new BadRequestError(`scopes must be a list of 1 to ${maxScopesPerSummaryRequest} scopes`);
  const names = { from: 'updatedFrom', to: 'updatedTo', codeFrom: 'codeFrom', codeTo: 'codeTo', time: rfc3339 };
  return {
    listing: listing ?? false,
    scopes: scopes.map((scope, position) => {
      if (scope === null || typeof scope !== 'object' || Array.isArray(scope))
        throw new BadRequestError(`scopes[${position}] must be an object with updatedFrom and updatedTo`);
      try {
        const parameters = Object.fromEntries(
          Object.entries(scope as Record<string, unknown>).filter(([, value]) => value !== null),
        );
        return parseScope(parameters, names);
      } catch (error) {
        if (error instanceof BadRequestError) throw new BadRequestError(`scopes[${position}]: ${error.message}`);
        throw error;
      }
    }),
  };
}

/** The parameter names of a scope in a dialect, and how its times are written. */
export interface ScopeParameters {
  from: string;
  to: string;
  codeFrom: string;
  codeTo: string;
  /** Reads one time parameter (epoch ms); throws BadRequestError naming it. */
  time: (text: string, name: string) => number;
}

/** Reads a scope: both times required, from not after to; code bounds optional, codeFrom before codeTo. */
export function parseScope(query: RequestParameters, names: ScopeParameters): SimulatorScope {
  const time = (name: string) => {
    const text = optionalText(query, name);
    if (text === null || text.trim() === '') throw new BadRequestError(`${name} is required`);
    return names.time(text, name);
  };
  const updatedFrom = time(names.from);
  const updatedTo = time(names.to);
  if (updatedFrom > updatedTo) throw new BadRequestError(`${names.from} must not be after ${names.to}`);
  const code = (name: string) => {
    const text = optionalText(query, name);
    return text === null || text === '' ? null : text;
  };
  const codeFrom = code(names.codeFrom);
  const codeTo = code(names.codeTo);
  if (codeFrom !== null && codeTo !== null && !(codeFrom < codeTo))
    throw new BadRequestError(`${names.codeFrom} must sort before ${names.codeTo}`);
  return { updatedFrom, updatedTo, codeFrom, codeTo };
}

const rfc3339Pattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 instant with an offset (`2026-11-27T01:00:00.000Z`, `2026-11-27T08:00:00+07:00`), as epoch ms. */
function rfc3339(text: string, name: string): number {
  const at = rfc3339Pattern.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at))
    throw new BadRequestError(
      `${name} must be an RFC 3339 time with an offset, e.g. 2026-11-27T08:00:00+07:00 or 2026-11-27T01:00:00.000Z`,
    );
  return at;
}

/** A comma-separated list of 1 to `maxCodesPerFetch` dossier codes, repeats dropped. */
export function codeList(query: RequestParameters, name: string): string[] {
  const text = optionalText(query, name);
  if (text === null || text.trim() === '')
    throw new BadRequestError(`${name} is required: dossier codes, comma-separated`);
  const codes = [...new Set(text.split(',').map((code) => code.trim()))];
  if (codes.some((code) => code === '')) throw new BadRequestError(`${name} has an empty code`);
  if (codes.length > maxCodesPerFetch)
    throw new BadRequestError(`${name} names ${codes.length} codes; at most ${maxCodesPerFetch} a request`);
  return codes;
}
