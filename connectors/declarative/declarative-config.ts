import { z } from 'zod';
import { DatePattern, DatePatternError } from '../sdk/date-pattern.js';
import { dateFormats } from '../sdk/dates.js';
import {
  breakerSchema,
  defaultBreaker,
  defaultRateLimit,
  defaultRetry,
  rateLimitSchema,
  retrySchema,
} from '../sdk/source-policy.js';
import { secretReference } from '../sdk/secrets.js';
import { comparableText } from '../sdk/text.js';

// The declarative REST connector's settings: every section of a definition file but `id`, `province`,
// `schedule` and `plugin`. Each option is documented where it is declared, with its default; the JSON Schema
// at connectors/declarative/schema.json is generated from these declarations (npm run schema).

const positiveInt = (what = 'a positive integer') =>
  z
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}` })
    .positive({ error: `expected ${what}` });
const nonNegativeInt = (what = 'a whole number, 0 or more') =>
  z
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}` })
    .min(0, { error: `expected ${what}` });
const text = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });
/** A path into a JSON document: dot-separated keys and array indexes, e.g. `data.items` or `timeline.dueAt`. */
const jsonPath = z
  .string({ error: 'expected a path such as data.items (dot-separated keys)' })
  .regex(/^[^.\s]+(\.[^.\s]+)*$/, { error: 'expected a path such as data.items (dot-separated keys)' });
/** Every string inside a JSON value (a body template), with the dotted path to it from `at`. */
function stringsIn(value: unknown, at: string): [string, string][] {
  if (typeof value === 'string') return [[at, value]];
  if (value !== null && typeof value === 'object')
    return Object.entries(value).flatMap(([key, item]) => stringsIn(item, `${at}.${key}`));
  return [];
}
/** Text with `{{variable}}` placeholders; the variables are checked against what a request can use. */
const template = z.string({ error: 'expected text (placeholders such as {{cursor}} allowed)' });
const dateFormatExpected = `a shorthand (${dateFormats.join(', ')}) or a pattern such as dd/MM/yyyy HH:mm`;
/**
 * A date format: a named shorthand, or a pattern of yyyy MM dd HH mm ss SSS and an offset XXX, with literal
 * separators, 'quoted text' and [optional parts] (connectors/declarative/README.md, "Dates"). Checked here,
 * compiled once when the connector is built.
 */
const dateFormat = z
  .string({ error: `expected a date format: ${dateFormatExpected}` })
  .superRefine((text, context) => {
    try {
      DatePattern.compile(text);
    } catch (error) {
      if (!(error instanceof DatePatternError)) throw error;
      context.addIssue({
        code: 'custom',
        message: `${JSON.stringify(text)} is not a date format: ${error.message}. Expected ${dateFormatExpected}`,
      });
    }
  })
  .meta({
    description:
      "A shorthand (yyyyMMddHHmmss, dd/MM/yyyy HH:mm:ss, dd/MM/yyyy, yyyy-MM-ddTHH:mm:ss, iso) or a pattern: yyyy MM dd HH mm ss, S to SSSSSSSSS (fraction), M d H m s (one or two digits), X XX XXX x xx xxx Z (offset), other characters literal, 'quoted text', [optional part]. No offset: the zone of `timezone`.",
    examples: [...dateFormats, 'dd/MM/yyyy HH:mm', 'yyyy-MM-dd HH:mm:ss.SSS', "yyyy-MM-dd'T'HH:mm:ssXXX"],
  });
/** The zone of times a source writes without an offset. Vietnam's fixed UTC+7 unless said otherwise. */
const timezone = z
  .string({ error: 'expected Asia/Ho_Chi_Minh, UTC or an offset such as +07:00' })
  .regex(/^(Asia\/Ho_Chi_Minh|UTC|[+-]\d{2}:\d{2})$/, {
    error: 'expected Asia/Ho_Chi_Minh, UTC or an offset such as +07:00',
  })
  .default('Asia/Ho_Chi_Minh');

/** Sections a polled definition cannot do without; a push-only one has none of them. */
export const polledOnlySections = ['http', 'request', 'records'] as const;
/** The sections a system that only pushes has: where updates are in a pushed body, and how they map. */
const pushSections = ['webhook', 'fields', 'statuses'] as const;

/** The error of a required section: what it is for when it is missing, what shape it takes otherwise. */
const requiredSection = (name: (typeof polledOnlySections)[number], what: string) => ({
  error: (issue: { input: unknown }) =>
    issue.input === undefined
      ? `expected the ${name} section (${what}): a polled connector has http, request and records; one whose system only pushes has none of them, and a webhook section instead`
      : `expected a mapping (${what})`,
});

/** Connection to the province system. */
export const httpSection = z
  .object(
    {
      /** Base URL every request path is relative to, e.g. https://dichvucong.hanoi.gov.vn. */
      baseUrl: z
        .url({ error: 'expected an http(s) URL such as https://motcua.example.gov.vn' })
        .refine((url) => /^https?:\/\//.test(url), { error: 'expected an http(s) URL' }),
      /** Time allowed for one request. Default 30000 ms. */
      timeoutMs: positiveInt('a positive number of milliseconds')
        .max(300_000, { error: 'expected at most 300000 ms' })
        .default(30_000),
      /** Headers sent with every request (no secrets here: use `auth`). */
      headers: z.record(z.string(), z.string({ error: 'expected a header value as text' })).default({}),
      /** TLS options for https. */
      tls: z
        .object({
          /**
           * Refuse a certificate that does not verify. Default true; false only for a system with a self-signed
           * certificate on a private network.
           */
          rejectUnauthorized: z.boolean({ error: 'expected true or false' }).default(true),
          /** A PEM file of extra certificate authorities to trust (a provincial CA). */
          caFile: text('a path to a PEM file').optional(),
        })
        .strict()
        .default({ rejectUnauthorized: true }),
    },
    requiredSection('http', 'baseUrl, timeoutMs, headers, tls'),
  )
  .strict();

/** How requests are authenticated. Secrets are references, never values. */
export const authSection = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('none') }).strict(),
    z
      .object({
        type: z.literal('apiKey'),
        /** Where the key goes: a header (default) or a query parameter. */
        in: z.enum(['header', 'query'], { error: 'expected header or query' }).default('header'),
        /** The header or parameter name, e.g. X-Api-Key or apikey. */
        name: text('the header or parameter name'),
        key: secretReference,
      })
      .strict(),
    z.object({ type: z.literal('bearer'), token: secretReference }).strict(),
    z.object({ type: z.literal('basic'), username: text('the user name'), password: secretReference }).strict(),
    z
      .object({
        type: z.literal('oauth2ClientCredentials'),
        /** Token endpoint, absolute or relative to http.baseUrl. */
        tokenUrl: text('the token endpoint URL'),
        clientId: text('the client id'),
        clientSecret: secretReference,
        /** Space-separated scopes to ask for; none by default. */
        scope: z.string().optional(),
        /** How the client authenticates to the token endpoint: form fields (default) or HTTP Basic. */
        clientAuthentication: z.enum(['body', 'basic'], { error: 'expected body or basic' }).default('body'),
        /** A token is renewed this long before it expires. Default 30 s. */
        refreshBeforeSeconds: nonNegativeInt().default(30),
      })
      .strict(),
  ],
  { error: 'expected type none, apiKey, bearer, basic or oauth2ClientCredentials' },
);

/** Variables a request template may use. */
export const templateVariables = [
  'province',
  'cursor',
  'page',
  'pageSize',
  'offset',
  'limit',
  'token',
  'windowStart',
  'windowEnd',
] as const;

/** The request that reads one page. */
export const requestSection = z
  .object(
    {
      /** Path relative to http.baseUrl, with placeholders, e.g. /api/v1/provinces/{{province}}/dossiers. */
      path: template,
      /** HTTP method. Default GET. */
      method: z.enum(['GET', 'POST'], { error: 'expected GET or POST' }).default('GET'),
      /** Query parameters; one whose value renders empty (no cursor yet) is left out. */
      query: z.record(z.string(), template).default({}),
      /** Request headers. */
      headers: z.record(z.string(), template).default({}),
      /** A JSON body for POST, whose string values may hold placeholders. */
      body: z.record(z.string(), z.unknown()).optional(),
    },
    requiredSection('request', 'path, method, query, headers, body'),
  )
  .strict();

/** How pages follow each other. */
export const paginationSection = z.discriminatedUnion(
  'type',
  [
    /** One request returns everything. */
    z.object({ type: z.literal('none') }).strict(),
    /** `{{page}}` and `{{pageSize}}`: page numbers from `firstPage`. */
    z
      .object({
        type: z.literal('pageNumber'),
        /** Records per page. */
        pageSize: positiveInt().max(5000, { error: 'expected at most 5000' }),
        /** Number of the first page: 0 or 1. Default 1. */
        firstPage: z.union([z.literal(0), z.literal(1)], { error: 'expected 0 or 1' }).default(1),
      })
      .strict(),
    /** `{{offset}}` and `{{limit}}`: records skipped and records per page. */
    z
      .object({ type: z.literal('offset'), pageSize: positiveInt().max(5000, { error: 'expected at most 5000' }) })
      .strict(),
    /** Follow a next-page URL, from the body (`path`) or the `Link: <…>; rel="next"` header. */
    z
      .object({
        type: z.literal('nextLink'),
        from: z.enum(['body', 'linkHeader'], { error: 'expected body or linkHeader' }),
        /** Path to the next URL in the body, for `from: body`. */
        path: jsonPath.optional(),
        /** `{{pageSize}}` of the first request. Default 100. */
        pageSize: positiveInt().max(5000, { error: 'expected at most 5000' }).default(100),
      })
      .strict()
      .refine((pagination) => pagination.from !== 'body' || pagination.path !== undefined, {
        error: 'path: expected the path of the next URL in the body',
        path: ['path'],
      }),
    /** An opaque token from each page, sent back as `{{token}}`; no token means the last page. */
    z
      .object({
        type: z.literal('cursorToken'),
        /** Path to the token in the body, e.g. next_cursor. */
        path: jsonPath,
        /** `{{pageSize}}`. Default 100. */
        pageSize: positiveInt().max(5000, { error: 'expected at most 5000' }).default(100),
      })
      .strict(),
  ],
  { error: 'expected type none, pageNumber, offset, nextLink or cursorToken' },
);

/** Incremental sync: read only what changed since the committed cursor. */
export const incrementalSection = z
  .object({
    /** Path to each record's update time, e.g. updatedAt. */
    cursorField: jsonPath,
    /** Format of that field. */
    cursorFormat: dateFormat,
    /** Format `{{cursor}}`, `{{windowStart}}` and `{{windowEnd}}` are written in. Default: cursorFormat. */
    requestFormat: dateFormat.optional(),
    /** Zone of times without an offset. Default Asia/Ho_Chi_Minh. */
    timezone,
    /** Whether the source's since-filter includes the cursor time itself. Default true. */
    inclusive: z.boolean({ error: 'expected true or false' }).default(true),
    /** Seconds re-read at the start of every run: update times are coarse, commits land late. Default 120. */
    lookbackSeconds: nonNegativeInt()
      .max(7 * 86_400, { error: 'expected at most 604800 (7 days)' })
      .default(120),
    /** Where the first sync starts (ISO 8601 date or time); default: the source's beginning. */
    startDate: z.iso
      .datetime({ offset: true, local: true, error: 'expected an ISO 8601 time such as 2025-07-01T00:00:00+07:00' })
      .or(z.iso.date({ error: 'expected an ISO 8601 date such as 2025-07-01' }))
      .optional(),
    /**
     * Read in time windows of this many hours (`{{windowStart}}`/`{{windowEnd}}`), for sources that refuse long ranges.
     */
    windowHours: positiveInt()
      .max(24 * 366, { error: 'expected at most 8784 hours' })
      .optional(),
    /**
     * Whether the source returns records sorted by update time (ascending). Default true. Unsorted: the update time
     * moves only at the end of a walk.
     */
    sorted: z.boolean({ error: 'expected true or false' }).default(true),
  })
  .strict();

/** Where the records are in a response. */
export const recordsSection = z
  .object(
    {
      /** Path to the array of records, e.g. data.content; `$` when the body itself is the array. */
      path: z.union([z.literal('$'), jsonPath], {
        error: 'expected a path such as data.items (dot-separated keys), or $ when the body itself is the list',
      }),
    },
    requiredSection('records', 'path to the list of records in a response'),
  )
  .strict();

/** Pushed updates: where the records are in a webhook body (they are mapped by `fields` and `statuses`). */
export const webhookSection = z
  .object({
    /** Path to the update or list of updates in a pushed body; `$` (default) when the body itself is one. */
    recordsPath: z
      .union([z.literal('$'), jsonPath], {
        error: 'expected a path such as data (dot-separated keys), or $ for the body itself',
      })
      .default('$'),
  })
  .strict();

/** Vendor values to canonical ones. Two keys that are one text once compared (NFC, trimmed) must agree. */
const valueMap = z.record(z.string(), z.union([z.string(), z.number()])).superRefine((map, context) => {
  const firstOf = new Map<string, [key: string, value: string | number]>();
  for (const [key, value] of Object.entries(map)) {
    const first = firstOf.get(comparableText(key));
    if (!first) firstOf.set(comparableText(key), [key, value]);
    else if (first[1] !== value) {
      context.addIssue({
        code: 'custom',
        message: `${JSON.stringify(first[0])} and ${JSON.stringify(key)} are the same text after Unicode NFC and trimming but map to ${JSON.stringify(first[1])} and ${JSON.stringify(value)}; keep one`,
      });
    }
  }
});

/** One canonical field from the source: a path (shorthand: the path as text) or a constant. */
const fieldSource = z.union(
  [
    jsonPath,
    z
      .object({
        /** Path to the value in the record. */
        path: jsonPath.optional(),
        /** A fixed value instead of a path. */
        constant: z.union([z.string(), z.number()]).optional(),
        /** Format of a date field. */
        format: dateFormat.optional(),
        /** Zone of a date written without an offset. Default Asia/Ho_Chi_Minh. */
        timezone: timezone.optional(),
        /** Trim white space around text. Default true. */
        trim: z.boolean({ error: 'expected true or false' }).default(true),
        /** Source values to canonical ones, e.g. {online: 2} for channel; compared after Unicode NFC and trimming. */
        map: valueMap.optional(),
      })
      .strict()
      .refine((field) => (field.path === undefined) !== (field.constant === undefined), {
        error: 'expected exactly one of path or constant',
      }),
  ],
  { error: 'expected a path (text) or {path | constant, format?, timezone?, trim?, map?}' },
);

const dateField = fieldSource;

/** The canonical fields (shared/domain.md) and where each comes from. Text is always stored in NFC. */
export const fieldsSection = z
  .object({
    dossierCode: fieldSource,
    altDossierCode: fieldSource.optional(),
    /** The record's own province code, when the system holds dossiers of several provinces. */
    provinceCode: fieldSource.optional(),
    /** Code set of provinceCode: 2025 or 2008. */
    provinceCodeSet: fieldSource.optional(),
    procedureCode: fieldSource.optional(),
    sectorCode: fieldSource.optional(),
    agencyCode: fieldSource.optional(),
    channel: fieldSource.optional(),
    applicantType: fieldSource.optional(),
    /** The vendor's status; mapped through `statuses`. */
    status: fieldSource,
    submittedAt: dateField.optional(),
    receivedAt: dateField.optional(),
    dueAt: dateField.optional(),
    finishedAt: dateField.optional(),
    returnedAt: dateField.optional(),
    rejectedAt: dateField.optional(),
    /** When the source last changed the record. Default: incremental.cursorField. */
    sourceUpdatedAt: dateField.optional(),
    /** A version counter; default: the update time in epoch milliseconds. */
    sourceVersion: fieldSource.optional(),
  })
  .strict();

/** Vendor status → national code (1-10). An unmapped status is a dead letter `unknown_status`, never a guess. */
export const statusesSection = z
  .object({
    /** A known vocabulary to start from: national (1-10), english (receiving…done), vietnamese (domain.md labels). */
    preset: z
      .enum(['national', 'english', 'vietnamese'], { error: 'expected national, english or vietnamese' })
      .optional(),
    /** Vendor value → national code; added to (and overriding) the preset. */
    map: z
      .record(
        z.string(),
        z
          .number({ error: 'expected a national status code 1-10' })
          .int({ error: 'expected a national status code 1-10' })
          .min(1, { error: 'expected a national status code 1-10' })
          .max(10, { error: 'expected a national status code 1-10' }),
      )
      .default({}),
    /**
     * Compare vendor values without regard to case. Default true. (Surrounding space and the Unicode form, NFC or NFD,
     * never count.)
     */
    ignoreCase: z.boolean({ error: 'expected true or false' }).default(true),
  })
  .strict()
  .refine((statuses) => statuses.preset !== undefined || Object.keys(statuses.map).length > 0, {
    error: 'expected a preset or a map of vendor statuses',
  });

/** Variables a summary request may use: the province and the scope's bounds (a code bound renders empty when none). */
export const summaryTemplateVariables = ['province', 'updatedFrom', 'updatedTo', 'codeFrom', 'codeTo'] as const;
/** Variables the multi-scope summary request may use, outside its `scope`. */
export const summariesTemplateVariables = ['province', 'scopes', 'listing'] as const;
/** Variables one scope of the multi-scope request may use. */
export const scopeTemplateVariables = ['updatedFrom', 'updatedTo', 'codeFrom', 'codeTo'] as const;
/** Variables a fetch-by-codes request may use. */
export const fetchTemplateVariables = ['province', 'codes'] as const;

/** A templated GET request of the reconcile section. */
const reconcileRequest = {
  /** Path relative to http.baseUrl, with placeholders. */
  path: template,
  /** Query parameters; one whose value renders empty (a code bound the scope does not have) is left out. */
  query: z.record(z.string(), template).default({}),
  /** Request headers. */
  headers: z.record(z.string(), template).default({}),
};

/** Where a digest answer's count and hash (16 hex digits) are. */
const digestAnswer = z
  .object({
    /** Path to the number of dossiers, e.g. count. */
    countPath: jsonPath,
    /** Path to the hash (connectors/sdk/summary-hash.ts), e.g. hash. */
    hashPath: jsonPath,
  })
  .strict();

/** Where a listing answer's entries are, and each entry's code, version and status. */
const listingAnswer = z
  .object({
    /** Path to the list of entries, e.g. items; `$` when the answer itself is the list. */
    entriesPath: z.union([z.literal('$'), jsonPath], {
      error: 'expected a path such as items (dot-separated keys), or $ when the body itself is the list',
    }),
    /** Path to the dossier code within an entry. */
    dossierCode: jsonPath,
    /** Path to the version counter within an entry, when fields.sourceVersion gives one. */
    sourceVersion: jsonPath.optional(),
    /**
     * Path to the update time within an entry, when the definition has no fields.sourceVersion (the version is
     * then the update time in epoch ms); read as incremental.cursorFormat says.
     */
    updatedAt: jsonPath.optional(),
    /** Path to the vendor status within an entry, mapped through `statuses`. */
    status: jsonPath,
  })
  .strict()
  .refine((listing) => (listing.sourceVersion === undefined) !== (listing.updatedAt === undefined), {
    error: 'expected exactly one of sourceVersion or updatedAt: where an entry says its version',
  });

/** How a summary request writes its scope's bounds. */
const boundsFormat = {
  /**
   * How {{updatedFrom}} and {{updatedTo}} are written. Default: incremental.requestFormat, else cursorFormat, else
   * iso. Both bounds are rounded up to the format's unit (a whole second for yyyyMMddHHmmss): for update times
   * of that precision, the same set of dossiers.
   */
  dateFormat: dateFormat.optional(),
  /** Zone of bounds written without an offset. Default: incremental.timezone (Asia/Ho_Chi_Minh). */
  timezone: timezone.optional(),
};

/**
 * A summary of a scope (connectors/reconcile-summary.openapi.yaml): the dossiers whose update time is in
 * [{{updatedFrom}}, {{updatedTo}}) and, when drilling down, whose code is in [{{codeFrom}}, {{codeTo}}). The
 * answer is a digest (`digest`: where its count and hash are) or a listing (`listing`: where its entries are
 * and what of each), exactly one.
 */
const summaryRequest = z
  .object({
    ...reconcileRequest,
    ...boundsFormat,
    /** The answer is a digest: where its count and hash (16 hex digits) are. */
    digest: digestAnswer.optional(),
    /** The answer is a listing: where its entries are, and each entry's code, version and status. */
    listing: listingAnswer.optional(),
  })
  .strict()
  .refine((summary) => (summary.digest === undefined) !== (summary.listing === undefined), {
    error: 'expected exactly one of digest (count and hash) or listing (entries): what the answer holds',
  });

/**
 * The summaries of many scopes in one POST (the multi-scope form of connectors/reconcile-summary.openapi.yaml):
 * how a reconcile drills down breadth-first in a few requests. The body is a JSON template: the string
 * '{{scopes}}' alone is replaced by the list of scopes, each written as `scope` says, and '{{listing}}' alone by
 * true (list each scope's entries) or false (digest each). The answer holds one summary per scope, in the order
 * asked, at `summariesPath`; each read as `digest` or `listing` says — a reconcile asks for both kinds.
 */
const summariesRequest = z
  .object({
    ...reconcileRequest,
    ...boundsFormat,
    /** The JSON body, e.g. {scopes: '{{scopes}}', listing: '{{listing}}'}; other strings may hold {{province}}. */
    body: z.record(z.string(), z.unknown()),
    /**
     * One scope of {{scopes}}: an object whose string values may hold {{updatedFrom}}, {{updatedTo}}, {{codeFrom}}
     * and {{codeTo}}; a value that renders empty (a code bound the scope does not have) is left out.
     */
    scope: z.record(z.string(), template),
    /** Scopes in one request (the system's limit). Default 1,000. */
    scopesPerRequest: positiveInt().default(1000),
    /** Path to the list of summaries in the answer; `$` when the answer itself is the list. */
    summariesPath: z.union([z.literal('$'), jsonPath], {
      error: 'expected a path such as summaries (dot-separated keys), or $ when the body itself is the list',
    }),
    /** Where a digest's count and hash are, within one summary. */
    digest: digestAnswer,
    /** Where a listing's entries are, within one summary, and each entry's code, version and status. */
    listing: listingAnswer,
  })
  .strict();

/** Reading the current records of named dossiers: a request with {{codes}}, and where the records are. */
const fetchRequest = z
  .object({
    ...reconcileRequest,
    /** HTTP method. Default GET. */
    method: z.enum(['GET', 'POST'], { error: 'expected GET or POST' }).default('GET'),
    /**
     * A JSON body for POST: a template whose string '{{codes}}' alone becomes the list of codes (a code may then
     * hold the separator); other strings may hold {{province}} and {{codes}} (joined by `separator`).
     */
    body: z.record(z.string(), z.unknown()).optional(),
    /** Path to the list of records in the answer, mapped as `fields` says; `$` when the body itself is the list. */
    recordsPath: z.union([z.literal('$'), jsonPath], {
      error: 'expected a path such as records (dot-separated keys), or $ when the body itself is the list',
    }),
    /** Codes in one request. Default 100. */
    batchSize: positiveInt().max(1000, { error: 'expected at most 1000' }).default(100),
    /** What {{codes}} joins the codes with. Default a comma. */
    separator: text('the text between codes, e.g. ,').default(','),
  })
  .strict()
  .refine((fetch) => fetch.body === undefined || fetch.method === 'POST', {
    error: 'a body is sent with method POST only',
    path: ['body'],
  });

/**
 * What the source offers a reconcile (connectors/declarative/README.md, "Reconciliation"): a summary of a scope,
 * and the current records of named dossiers. Without it, a reconcile compares page by page.
 */
export const reconcileSection = z
  .object({
    summary: summaryRequest.optional(),
    summaries: summariesRequest.optional(),
    fetch: fetchRequest.optional(),
  })
  .strict();

/**
 * Every section of a declarative definition, in the order a file writes them (declarative/README.md). The one
 * list of them: the definition file's keys, the JSON Schema, the stored definition's key order and the push-only
 * check all come from here.
 */
export const sectionSchemas = {
  http: httpSection,
  auth: authSection,
  request: requestSection,
  pagination: paginationSection,
  incremental: incrementalSection,
  records: recordsSection,
  webhook: webhookSection,
  reconcile: reconcileSection,
  fields: fieldsSection,
  statuses: statusesSection,
  rateLimit: rateLimitSchema,
  retry: retrySchema,
  breaker: breakerSchema,
} as const;
/** The name of a declarative section. */
export type SectionName = keyof typeof sectionSchemas;
/** Every declarative section's name, in file order; a plugin definition has none of them. */
export const sectionNames = Object.keys(sectionSchemas) as SectionName[];
/** Every section about reading the system: a push-only definition has none of them. */
export const readingSections = sectionNames.filter((name) => !(pushSections as readonly string[]).includes(name));

/** The declarative connector's configuration: the definition's REST sections. */
export const declarativeConfig = z
  .object({
    ...sectionSchemas,
    auth: authSection.default({ type: 'none' }),
    pagination: paginationSection.default({ type: 'none' }),
    incremental: incrementalSection.optional(),
    webhook: webhookSection.optional(),
    reconcile: reconcileSection.optional(),
    rateLimit: rateLimitSchema.default(defaultRateLimit),
    retry: retrySchema.default(defaultRetry),
    breaker: breakerSchema.default(defaultBreaker),
  })
  .strict()
  .superRefine((config, context) => {
    // Every placeholder must be one a request can fill.
    const templates: [string, string][] = [['request.path', config.request.path]];
    for (const [key, value] of Object.entries(config.request.query)) templates.push([`request.query.${key}`, value]);
    for (const [key, value] of Object.entries(config.request.headers))
      templates.push([`request.headers.${key}`, value]);
    for (const [where, value] of templates) {
      for (const [, name] of value.matchAll(/\{\{\s*([^}\s]+)\s*\}\}/g)) {
        if (!(templateVariables as readonly string[]).includes(name!)) {
          context.addIssue({
            code: 'custom',
            path: where.split('.'),
            message: `{{${name}}} is not a placeholder; expected one of ${templateVariables.map((v) => `{{${v}}}`).join(', ')}`,
          });
        }
      }
    }
    const reconcileTemplates: [string, string, readonly string[]][] = [];
    const allowedIn = {
      summary: summaryTemplateVariables,
      summaries: summariesTemplateVariables,
      fetch: fetchTemplateVariables,
    } as const;
    for (const part of ['summary', 'summaries', 'fetch'] as const) {
      const request = config.reconcile?.[part];
      if (!request) continue;
      const allowed = allowedIn[part];
      reconcileTemplates.push([`reconcile.${part}.path`, request.path, allowed]);
      for (const [key, value] of Object.entries(request.query))
        reconcileTemplates.push([`reconcile.${part}.query.${key}`, value, allowed]);
      for (const [key, value] of Object.entries(request.headers))
        reconcileTemplates.push([`reconcile.${part}.headers.${key}`, value, allowed]);
      if ('body' in request)
        for (const [path, value] of stringsIn(request.body, `reconcile.${part}.body`))
          reconcileTemplates.push([path, value, allowed]);
    }
    const summaries = config.reconcile?.summaries;
    if (summaries) {
      const where = 'reconcile.summaries';
      for (const [key, value] of Object.entries(summaries.scope))
        reconcileTemplates.push([`${where}.scope.${key}`, value, scopeTemplateVariables]);
      const scopes = stringsIn(summaries.body, `${where}.body`).filter(([, value]) =>
        /\{\{\s*scopes\s*\}\}/.test(value),
      );
      if (scopes.length !== 1 || !/^\{\{\s*scopes\s*\}\}$/.test(scopes[0]![1]))
        context.addIssue({
          code: 'custom',
          path: ['reconcile', 'summaries', 'body'],
          message: "the body needs '{{scopes}}' once, as a whole value (it becomes the list of scopes)",
        });
      if (
        !/\{\{\s*listing\s*\}\}/.test(
          JSON.stringify([summaries.path, summaries.query, summaries.headers, summaries.body]),
        )
      )
        context.addIssue({
          code: 'custom',
          path: ['reconcile', 'summaries'],
          message: 'the request needs {{listing}} (true or false): a reconcile asks for digests, then listings',
        });
      const scopeText = JSON.stringify(summaries.scope);
      if (!(scopeText.includes('updatedFrom') && scopeText.includes('updatedTo')))
        context.addIssue({
          code: 'custom',
          path: ['reconcile', 'summaries', 'scope'],
          message: 'a scope needs {{updatedFrom}} and {{updatedTo}}: the update times it holds',
        });
    }
    for (const [where, value, allowed] of reconcileTemplates) {
      for (const [, name] of value.matchAll(/\{\{\s*([^}\s]+)\s*\}\}/g)) {
        if (!allowed.includes(name!)) {
          context.addIssue({
            code: 'custom',
            path: where.split('.'),
            message: `{{${name}}} is not a placeholder here; expected one of ${allowed.map((v) => `{{${v}}}`).join(', ')}`,
          });
        }
      }
    }
    const summaryText = JSON.stringify(config.reconcile?.summary ?? {});
    if (config.reconcile?.summary && !(summaryText.includes('updatedFrom') && summaryText.includes('updatedTo'))) {
      context.addIssue({
        code: 'custom',
        path: ['reconcile', 'summary'],
        message: 'a summary request needs {{updatedFrom}} and {{updatedTo}}: the scope it summarises',
      });
    }
    if (config.reconcile?.fetch && !JSON.stringify(config.reconcile.fetch).includes('{{codes}}')) {
      context.addIssue({
        code: 'custom',
        path: ['reconcile', 'fetch'],
        message: 'a fetch request needs {{codes}}: the dossier codes it asks for',
      });
    }
    for (const part of ['summary', 'summaries'] as const) {
      const listing = config.reconcile?.[part]?.listing;
      if (!listing || (listing.sourceVersion === undefined) === (config.fields.sourceVersion === undefined)) continue;
      context.addIssue({
        code: 'custom',
        path: ['reconcile', part, 'listing', listing.sourceVersion === undefined ? 'updatedAt' : 'sourceVersion'],
        message:
          config.fields.sourceVersion === undefined
            ? 'fields has no sourceVersion, so a version is the update time in epoch ms: give listing.updatedAt, not sourceVersion'
            : 'fields.sourceVersion gives the version: give listing.sourceVersion (where an entry says it), not updatedAt',
      });
    }
    if (config.incremental?.windowHours && !JSON.stringify(config.request).includes('windowEnd')) {
      context.addIssue({
        code: 'custom',
        path: ['incremental', 'windowHours'],
        message: 'time windows need {{windowStart}} and {{windowEnd}} in the request',
      });
    }
    if (config.incremental === undefined && config.fields.sourceUpdatedAt === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['fields', 'sourceUpdatedAt'],
        message:
          'expected where each record says when it last changed (e.g. updatedAt): required unless incremental.cursorField says it',
      });
    }
  });
/** The configuration of a polled connector (it may take pushes too, with `webhook`). */
export type DeclarativeConfig = z.infer<typeof declarativeConfig>;

/**
 * The configuration of a system that only pushes: where the updates are in a pushed body, and how they map. It
 * has no section about reading the system, and is never polled.
 */
export const pushOnlyConfig = z
  .object({
    webhook: sectionSchemas.webhook,
    fields: sectionSchemas.fields,
    statuses: sectionSchemas.statuses,
  } satisfies Record<(typeof pushSections)[number], z.ZodType>)
  .strict()
  .superRefine((config, context) => {
    if (config.fields.sourceUpdatedAt === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['fields', 'sourceUpdatedAt'],
        message:
          'expected where each update says when it last changed (e.g. updatedAt): required, since a push-only connector has no incremental.cursorField to take it from',
      });
    }
  });
export type PushOnlyConfig = z.infer<typeof pushOnlyConfig>;

/** Whether a declarative configuration is of a system that only pushes. */
export function isPushOnly(config: DeclarativeConfig | PushOnlyConfig): config is PushOnlyConfig {
  return !('http' in config);
}

/**
 * The declarative kind's configuration, either shape: push-only when the sections hold a `webhook` and none of
 * http, request and records; polled otherwise. Each shape reports its own problems, path by path.
 */
export const declarativeSections = z.unknown().transform((input, context): DeclarativeConfig | PushOnlyConfig => {
  const sections =
    input !== null && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
  const given = (key: string) => sections[key] !== undefined;
  if (!polledOnlySections.some(given) && !given('webhook')) {
    context.issues.push({
      code: 'custom',
      path: [],
      input,
      message:
        'expected the sections of a polled connector (http, request, records, fields, statuses) or of one whose system only pushes (webhook, fields, statuses); got neither http, request and records nor webhook',
    });
    return z.NEVER;
  }
  let document: unknown = input;
  if (!polledOnlySections.some(given)) {
    // Push-only: a section about reading the system would be ignored in silence, so it is refused by name.
    const stray = readingSections.filter(given);
    for (const key of stray) {
      context.issues.push({
        code: 'custom',
        path: [key],
        input: sections[key],
        message: `a push-only connector (webhook without http, request and records) is never polled, so it has no ${key}; remove it, or add http, request and records to poll the system`,
      });
    }
    document = Object.fromEntries(Object.entries(sections).filter(([key]) => !(stray as string[]).includes(key)));
  }
  const parsed = (polledOnlySections.some(given) ? declarativeConfig : pushOnlyConfig).safeParse(document, {
    reportInput: true,
  });
  if (!parsed.success) {
    // The shape's own issues, each with its path and message, as if the shape had been parsed in place.
    context.issues.push(...(parsed.error.issues as unknown as z.core.$ZodRawIssue[]));
    return z.NEVER;
  }
  return parsed.data;
});
