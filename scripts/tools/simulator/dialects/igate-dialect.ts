import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { englishStatusWords, type DossierStatus } from '../../../../connectors/sdk/dossier-status.js';
import { BadRequestError } from '../dossier-query.js';
import { agencyCode } from '../portal-wire-format.js';
import type { SimulatedDossier } from '../simulated-dossier.js';
import { basicCredentials, bearerToken } from './authorization-header.js';
import type { DialectContext } from './dialect-context.js';
import { IgateAccessTokens } from './igate-access-tokens.js';
import { integerInRange, timeInFormat, type RequestParameters } from './request-parameters.js';
import { sameSecret } from './same-secret.js';
import { isoLocalVietnamTime, isoOffsetVietnamTime } from './vietnam-time-formats.js';

// The "igate" vendor dialect: a Spring-style JSON API behind OAuth2 client credentials. Nested camelCase
// items, English status words, ISO 8601 times, and page-number or offset/limit paging. The wire format is
// documented in README.md beside this file; keep the two in step.

/** One dossier as igate serves it. */
export interface IgateDossierItem {
  code: string;
  provinceCode: string;
  procedure: { code: string; sectorCode: string; name: string };
  agency: { code: string; name: string };
  channel: 'direct' | 'online' | 'postal';
  applicantKind: 'citizen' | 'business' | 'agency' | 'organization';
  state: string;
  timeline: {
    submittedAt: string;
    acceptedAt: string | null;
    dueAt: string | null;
    finishedAt: string | null;
    returnedAt: string | null;
    rejectedAt: string | null;
  };
  /** Vietnam local time without offset; igate has no version field, so this alone orders updates. */
  updatedAt: string;
  applicant: { fullName: string; identityNumber: string; phone: string; address: string };
}

/** One page of `GET /igate/api/v1/provinces/{province}/dossiers`. */
export interface IgateDossierPage {
  content: IgateDossierItem[];
  page: { number: number; size: number; totalElements: number; totalPages: number };
}

/** Served as `state` for `unknown_status` dossiers: a word igate's list does not have. */
export const igateUnknownState = 'archived';
/** Served as `timeline.dueAt` for `bad_date` dossiers: ISO-shaped, but 31 February at 25 o'clock. */
export const igateBadDate = '2026-02-31T25:00:00+07:00';

export const igateDefaultPageSize = 20;
export const igateMaxPageSize = 500;

/** The national code → igate's word: the inverse of the list connectors map from (shared/domain.md). */
const stateWords = Object.fromEntries(Object.entries(englishStatusWords).map(([word, code]) => [code, word])) as Record<
  DossierStatus,
  string
>;
const channelWords = { 1: 'direct', 2: 'online', 3: 'postal' } as const;
const applicantKinds = { 1: 'citizen', 2: 'business', 3: 'agency', 4: 'organization' } as const;

/** Registers `POST /igate/oauth/token` and `GET /igate/api/v1/provinces/:province/dossiers`. */
export function registerIgateDialect(server: FastifyInstance, context: DialectContext): void {
  const { clientId, clientSecret } = context.credentials;
  const tokens = new IgateAccessTokens(context.tokenTtlSeconds);

  server.register(async (igate) => {
    // OAuth2 token requests are form-encoded (RFC 6749 §4.4.2); fastify parses only JSON by default.
    igate.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, new URLSearchParams(body as string));
    });
    // Framework errors (an unparsable body, a body too large) in igate's shape rather than fastify's.
    igate.setErrorHandler((error: FastifyError, _request, reply) => {
      const status = error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 500;
      return reply
        .code(status)
        .send({ error: status < 500 ? 'invalid_request' : 'server_error', message: error.message });
    });

    igate.post('/igate/oauth/token', async (request, reply) => {
      const form = request.body instanceof URLSearchParams ? request.body : new URLSearchParams();
      const client = clientOf(request.headers.authorization, form);
      reply.header('cache-control', 'no-store');
      if (clientId !== undefined && clientSecret !== undefined) {
        if (!client || !sameSecret(client.id, clientId) || !sameSecret(client.secret, clientSecret)) {
          if (client?.viaBasic) reply.header('www-authenticate', 'Basic realm="igate"');
          return reply.code(401).send({ error: 'invalid_client' });
        }
      }
      const grantType = form.get('grant_type');
      if (grantType === null)
        return reply.code(400).send({ error: 'invalid_request', message: 'grant_type is required' });
      if (grantType !== 'client_credentials') return reply.code(400).send({ error: 'unsupported_grant_type' });
      return { access_token: tokens.issue(), token_type: 'Bearer', expires_in: context.tokenTtlSeconds };
    });

    igate.get('/igate/api/v1/provinces/:province/dossiers', async (request, reply) => {
      if (clientId !== undefined) {
        const token = bearerToken(request.headers.authorization);
        if (token === null || !tokens.isValid(token)) return rejectToken(reply);
      }
      const { province } = request.params as { province: string };
      const index = context.indexOf(province);
      if (!index)
        return reply
          .code(404)
          .send({ error: 'not_found', message: `province ${JSON.stringify(province)} is not served here` });
      try {
        const { updatedFrom, offset, size } = parseIgateQuery(request.query as RequestParameters);
        const start = { updatedSince: updatedFrom, afterCode: null };
        const totalElements = index.countFrom(start);
        const { dossiers } = index.page(start, size, offset);
        const page = {
          number: Math.floor(offset / size),
          size,
          totalElements,
          totalPages: Math.ceil(totalElements / size),
        };
        return { content: dossiers.map(toIgateItem), page } satisfies IgateDossierPage;
      } catch (error) {
        if (error instanceof BadRequestError)
          return reply.code(400).send({ error: 'bad_request', message: error.message });
        throw error;
      }
    });
  });
}

/** The wire item for a dossier, broken the way its `malformed` kind says. */
export function toIgateItem(dossier: SimulatedDossier): IgateDossierItem {
  const { procedure, applicant } = dossier;
  const at = (time: number | null) => (time === null ? null : isoOffsetVietnamTime(time));
  return {
    code: dossier.code,
    provinceCode: dossier.provinceCode,
    procedure: { code: procedure.code, sectorCode: procedure.sectorCode, name: procedure.name },
    agency: { code: agencyCode(dossier), name: procedure.agencyName },
    channel: channelWords[dossier.channel],
    applicantKind: applicantKinds[dossier.applicantType],
    state: dossier.malformed === 'unknown_status' ? igateUnknownState : stateWords[dossier.status],
    timeline: {
      submittedAt: isoOffsetVietnamTime(dossier.submittedAt),
      acceptedAt: at(dossier.receivedAt),
      dueAt: dossier.malformed === 'bad_date' ? igateBadDate : at(dossier.dueAt),
      finishedAt: at(dossier.finishedAt),
      returnedAt: at(dossier.returnedAt),
      rejectedAt: at(dossier.rejectedAt),
    },
    updatedAt: isoLocalVietnamTime(dossier.updatedAt),
    applicant: {
      fullName: applicant.fullName,
      identityNumber: applicant.idNumber,
      phone: applicant.phone,
      address: applicant.address,
    },
  };
}

/**
 * Page-number paging (`page`, `size`) or offset paging (`offset`, `limit`), never both; either way an offset and a
 * size.
 */
function parseIgateQuery(query: RequestParameters): { updatedFrom: number | null; offset: number; size: number } {
  const updatedFrom = timeInFormat(query, 'updatedFrom', 'iso');
  const sizeRange = { min: 1, max: igateMaxPageSize, fallback: igateDefaultPageSize };
  const numberRange = { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 };
  const byOffset = query.offset !== undefined || query.limit !== undefined;
  if (byOffset && (query.page !== undefined || query.size !== undefined)) {
    throw new BadRequestError('page by page/size or by offset/limit, not both');
  }
  if (byOffset)
    return {
      updatedFrom,
      offset: integerInRange(query, 'offset', numberRange),
      size: integerInRange(query, 'limit', sizeRange),
    };
  const size = integerInRange(query, 'size', sizeRange);
  return { updatedFrom, offset: integerInRange(query, 'page', numberRange) * size, size };
}

/**
 * The OAuth2 client of a token request: from HTTP Basic if present (RFC 6749 §2.3.1, where id and secret are
 * form-encoded before base64), else from the form body's client_id and client_secret.
 */
function clientOf(
  authorization: string | undefined,
  form: URLSearchParams,
): { id: string; secret: string; viaBasic: boolean } | null {
  if (authorization !== undefined && /^Basic /i.test(authorization)) {
    const basic = basicCredentials(authorization);
    const [id, secret] = [formDecoded(basic?.user), formDecoded(basic?.password)];
    return id === null || secret === null ? null : { id, secret, viaBasic: true };
  }
  const [id, secret] = [form.get('client_id'), form.get('client_secret')];
  return id === null || secret === null ? null : { id, secret, viaBasic: false };
}

function formDecoded(text: string | undefined): string | null {
  if (text === undefined) return null;
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return null; // a stray % is not a client we know
  }
}

function rejectToken(reply: FastifyReply): FastifyReply {
  return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'invalid_token' });
}
