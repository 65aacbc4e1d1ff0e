import { readFile } from 'node:fs/promises';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { OpenAPIV3_1 } from 'openapi-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { digestOf, entryHash } from '../../connectors/sdk/summary-hash.js';
import { ProvinceSimulator } from '../../scripts/tools/simulator/province-simulator.js';

// connectors/reconcile-summary.openapi.yaml is what a province system may implement for reconciliation: a valid
// OpenAPI 3.1 document whose worked hash example is right, and which the simulator's answers (success and error)
// match, status by status.

const apiKey = 'k-openapi-summary-91c3';
let document: OpenAPIV3_1.Document;
let simulator: ProvinceSimulator;
let url: string;

beforeAll(async () => {
  const text = await readFile(new URL('../../connectors/reconcile-summary.openapi.yaml', import.meta.url), 'utf8');
  document = parse(text) as OpenAPIV3_1.Document;
  simulator = new ProvinceSimulator({
    provinces: ['79'],
    dossiersPerProvince: 600,
    baseTime: new Date('2026-03-01T03:00:00Z'),
    paused: true,
    apiKey,
  });
  url = await simulator.start();
  simulator.advance(100);
});

afterAll(() => simulator.stop());

/** The value with every `$ref` into the document replaced by what it points at. */
function resolved(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolved);
  if (value === null || typeof value !== 'object') return value;
  const reference = (value as { $ref?: unknown }).$ref;
  if (typeof reference === 'string') {
    const target = reference
      .slice(2)
      .split('/')
      .reduce<unknown>((at, key) => (at as Record<string, unknown>)[key], document);
    return resolved(target);
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolved(item)]));
}

/** Checks an answer of the simulator against the document's schema for that path and status. */
async function expectDescribed(
  path: string,
  query: Record<string, string>,
  headers: Record<string, string> = { 'x-api-key': apiKey },
  post?: unknown,
) {
  const response = await fetch(`${url}${path}?${new URLSearchParams(query)}`, {
    headers: post === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(post === undefined ? {} : { method: 'POST', body: JSON.stringify(post) }),
  });
  const body: unknown = await response.json();
  const item = document.paths?.[path];
  const operation = resolved(post === undefined ? item?.get : item?.post) as OpenAPIV3_1.OperationObject;
  const answer = operation.responses?.[String(response.status)] as OpenAPIV3_1.ResponseObject | undefined;
  expect(answer, `${path} answered ${response.status}, which the document does not list`).toBeDefined();
  const schema = answer!.content?.['application/json']?.schema;
  const parsed = z.fromJSONSchema(schema as never).safeParse(body);
  expect(parsed.error?.issues ?? [], `${path} ${response.status}: ${JSON.stringify(body).slice(0, 200)}`).toEqual([]);
  return { status: response.status, body };
}

describe('connectors/reconcile-summary.openapi.yaml', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('its worked example of the hash is what connectors/sdk/summary-hash.ts computes', () => {
    const first = { dossierCode: '79.2026.000001', sourceVersion: 3, status: 4 };
    const second = { dossierCode: '79.2026.000002', sourceVersion: 1, status: 10 };
    const description = document.info.description ?? '';
    expect(description).toContain(entryHash(first).toString(16).padStart(16, '0'));
    expect(description).toContain(entryHash(second).toString(16).padStart(16, '0'));
    const { count, hash } = digestOf([first, second]);
    expect(description).toContain(`{"count": ${count}, "hash": "${hash}"}`);
    const operation = document.paths?.['/api/dossiers/summary']?.get as OpenAPIV3_1.OperationObject;
    const examples = (operation.responses?.['200'] as OpenAPIV3_1.ResponseObject).content?.['application/json']
      ?.examples as Record<string, { value: unknown }>;
    expect(examples.digest?.value).toEqual({ count, hash });
    expect(examples.empty?.value).toEqual(digestOf([]));
  });

  it('its schemas refuse what the contract forbids, so the check of the answers can fail', () => {
    const schema = (name: string) => z.fromJSONSchema(resolved(document.components?.schemas?.[name]) as never);
    expect(schema('Digest').safeParse({ count: 1, hash: '67DA3597CE0C1777' }).success).toBe(false);
    expect(schema('Digest').safeParse({ count: -1, hash: '67da3597ce0c1777' }).success).toBe(false);
    expect(schema('Entry').safeParse({ dossierCode: 'a', version: 1, status: 11 }).success).toBe(false);
    expect(schema('Dossier').safeParse({ TrangThaiHoSo: '4', NgayCapNhat: '20261113090000' }).success).toBe(false);
  });

  it("describes the simulator's answers: digest, listing, by-code, and each error", async () => {
    const scope = { province: '79', updatedFrom: '2026-01-01T00:00:00+07:00', updatedTo: '2027-01-01T00:00:00Z' };
    const digest = await expectDescribed('/api/dossiers/summary', scope);
    expect(digest).toMatchObject({ status: 200, body: { count: 600 } });
    const listing = await expectDescribed('/api/dossiers/summary', {
      ...scope,
      codeFrom: '79.2026.000100',
      codeTo: '79.2026.000200',
      listing: 'true',
    });
    expect(listing).toMatchObject({ status: 200, body: { count: 100 } });
    const codes = (listing.body as { entries: { dossierCode: string }[] }).entries
      .slice(0, 3)
      .map((e) => e.dossierCode);
    const found = await expectDescribed('/api/dossiers/by-code', {
      province: '79',
      codes: [...codes, 'none'].join(','),
    });
    expect((found.body as { items: unknown[] }).items).toHaveLength(3);
    const posted = await expectDescribed('/api/dossiers/by-code', { province: '79' }, undefined, {
      codes: [...codes, 'none, with a comma'],
    });
    expect(posted.body).toEqual(found.body);
    expect((await expectDescribed('/api/dossiers/by-code', { province: '79' }, undefined, { codes: [] })).status).toBe(
      400,
    );

    expect((await expectDescribed('/api/dossiers/summary', { ...scope, updatedFrom: 'yesterday' })).status).toBe(400);
    expect((await expectDescribed('/api/dossiers/by-code', { province: '79' })).status).toBe(400);
    expect((await expectDescribed('/api/dossiers/summary', scope, { 'x-api-key': 'wrong' })).status).toBe(401);
    simulator.setFault('79', { failureRate: 1 });
    try {
      expect((await expectDescribed('/api/dossiers/by-code', { province: '79', codes: codes.join(',') })).status).toBe(
        503,
      );
    } finally {
      simulator.setFault('79', null);
    }
  });

  it('describes the multi-scope form: one summary per scope in order, equal to the single-scope answers', async () => {
    const path = '/api/dossiers/summaries';
    const requestSchema = resolved(
      (document.paths?.[path]?.post?.requestBody as OpenAPIV3_1.RequestBodyObject).content['application/json']?.schema,
    );
    const scopes: Record<string, string>[] = [
      { updatedFrom: '2026-01-01T00:00:00+07:00', updatedTo: '2027-01-01T00:00:00Z' },
      { updatedFrom: '2026-01-01T00:00:00+07:00', updatedTo: '2027-01-01T00:00:00Z', codeFrom: '79.2026.000100' },
      {
        updatedFrom: '2026-01-01T00:00:00+07:00',
        updatedTo: '2027-01-01T00:00:00Z',
        codeFrom: '79.2026.000100',
        codeTo: '79.2026.000110',
      },
      { updatedFrom: '2026-01-01T00:00:00Z', updatedTo: '2026-01-01T00:00:00Z' },
    ];
    const asked = { scopes };
    expect(z.fromJSONSchema(requestSchema as never).safeParse(asked).error?.issues ?? []).toEqual([]);
    const digests = await expectDescribed(path, { province: '79' }, undefined, asked);
    expect(digests.status).toBe(200);
    const single = await Promise.all(
      scopes.map(async (scope) => (await expectDescribed('/api/dossiers/summary', { province: '79', ...scope })).body),
    );
    expect((digests.body as { summaries: unknown[] }).summaries).toEqual(single);
    expect((single[3] as { count: number }).count).toBe(0);

    const listings = await expectDescribed(path, { province: '79' }, undefined, {
      scopes: scopes.slice(2),
      listing: true,
    });
    expect(listings.status).toBe(200);
    const [tenCodes, empty] = (listings.body as { summaries: { count: number }[] }).summaries;
    expect([tenCodes?.count, empty?.count]).toEqual([10, 0]);

    const badTime = await expectDescribed(path, { province: '79' }, undefined, {
      scopes: [scopes[0], { ...scopes[0], updatedTo: 'tomorrow' }],
    });
    expect(badTime.status).toBe(400);
    expect((badTime.body as { message: string }).message).toMatch(/^scopes\[1\]: updatedTo must be an RFC 3339 time/);
    expect((await expectDescribed(path, { province: '79' }, undefined, { scopes: [] })).status).toBe(400);
    expect((await expectDescribed(path, { province: '79' }, { 'x-api-key': 'wrong' }, asked)).status).toBe(401);
  });
});
