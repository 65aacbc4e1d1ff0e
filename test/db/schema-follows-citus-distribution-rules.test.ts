import { readdirSync, readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';

// Citus cannot be installed here, so the migrated schema is checked against the rules Citus enforces when
// docs/scaling.md's commands distribute the dossier tables on province_code and make the control tables reference
// tables. The two lists are read from docs/scaling.md itself, so the document and the schema cannot drift apart.

const scaling = readFileSync(new URL('../../docs/scaling.md', import.meta.url), 'utf8');
const distributed = [...scaling.matchAll(/create_distributed_table\('(\w+)', 'province_code'/g)].map((m) => m[1]!);
const reference = [...scaling.matchAll(/create_reference_table\('(\w+)'\)/g)].map((m) => m[1]!);
const queriesDir = new URL('../../db/queries/', import.meta.url);

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => {
  await env?.cleanup();
});

/** The schema's tables (partitions stand for their parent, which Citus distributes with them). */
async function tables(): Promise<{ name: string; columns: string[] }[]> {
  const { rows } = await sql<{ name: string; columns: string[] }>`
    SELECT c.relname AS name, array_agg(a.attname::text ORDER BY a.attnum) AS columns
    FROM pg_class c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    GROUP BY c.relname`.execute(env.db);
  return rows;
}

it('names every table once, as distributed on province_code or as a reference table', async () => {
  expect(distributed).toEqual(expect.arrayContaining(['dossiers', 'dossier_events', 'province_daily_stats']));
  expect(distributed.filter((name) => reference.includes(name))).toEqual([]);
  const all = await tables();
  const unplaced = all
    .map(({ name }) => name)
    .filter((name) => !distributed.includes(name) && !reference.includes(name));
  expect(unplaced, 'tables docs/scaling.md does not place').toEqual([]);
  const unknown = [...distributed, ...reference].filter((name) => !all.some((table) => table.name === name));
  expect(unknown, 'tables docs/scaling.md names that the schema lacks').toEqual([]);
  for (const name of distributed)
    expect(all.find((table) => table.name === name)!.columns, name).toContain('province_code');
});

it('includes province_code in every primary key, unique constraint and unique index of a distributed table', async () => {
  const { rows } = await sql<{ table: string; index: string; columns: string[] }>`
    SELECT c.relname AS table, i.indexrelid::regclass::text AS index,
      array(SELECT a.attname::text FROM unnest(i.indkey) k JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k)
        AS columns
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
    WHERE i.indisunique AND c.relnamespace = 'public'::regnamespace AND NOT c.relispartition`.execute(env.db);
  const offending = rows
    .filter((row) => distributed.includes(row.table) && !row.columns.includes('province_code'))
    .map((row) => `${row.table}: ${row.index} (${row.columns.join(', ')})`);
  expect(offending).toEqual([]);
  // Not vacuous: the keys of distributed tables were read.
  expect(rows.filter((row) => distributed.includes(row.table)).length).toBeGreaterThanOrEqual(distributed.length);
});

it('has no foreign key from a distributed table to a local one, nor from a reference table to a distributed one', async () => {
  const { rows } = await sql<{ from: string; to: string; name: string; fromColumns: string[]; toColumns: string[] }>`
    SELECT f.relname AS from, t.relname AS to, con.conname AS name,
      array(SELECT a.attname::text FROM unnest(con.conkey) k JOIN pg_attribute a ON a.attrelid = f.oid AND a.attnum = k)
        AS "fromColumns",
      array(SELECT a.attname::text FROM unnest(con.confkey) k JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k)
        AS "toColumns"
    FROM pg_constraint con
    JOIN pg_class f ON f.oid = con.conrelid
    JOIN pg_class t ON t.oid = con.confrelid
    WHERE con.contype = 'f' AND con.connamespace = 'public'::regnamespace AND NOT f.relispartition
      AND con.conparentid = 0`.execute(env.db);
  const offending = rows.filter((fk) => {
    if (distributed.includes(fk.from))
      return distributed.includes(fk.to)
        ? !fk.fromColumns.includes('province_code') || !fk.toColumns.includes('province_code')
        : !reference.includes(fk.to);
    return reference.includes(fk.from) && distributed.includes(fk.to);
  });
  expect(offending.map((fk) => `${fk.from}.${fk.name} → ${fk.to}`)).toEqual([]);
});

/** The SET lists of every upsert and update in db/queries/ whose table is distributed: [file, table, list]. */
function setListsOnDistributedTables(): [string, string, string][] {
  const found: [string, string, string][] = [];
  for (const file of readdirSync(queriesDir).filter((name) => name.endsWith('.ts'))) {
    const source = readFileSync(new URL(file, queriesDir), 'utf8');
    // SQL text: INSERT INTO t … ON CONFLICT … DO UPDATE SET <list> (t: the nearest INSERT before it), and UPDATE t
    // SET <list>, each list up to the clause that ends it. Kysely: .insertInto('t') … .doUpdateSet({…}), and
    // .updateTable('t') … .set({…}).
    const statements = [
      ...[
        ...source.matchAll(
          /INSERT INTO (\w+)(?:(?!INSERT INTO)[\s\S])*?DO UPDATE SET([\s\S]*?)(?=\bWHERE\b|\bRETURNING\b|`|;)/gi,
        ),
      ],
      ...[...source.matchAll(/\bUPDATE (\w+)(?: AS \w+)? SET([\s\S]*?)(?=\bWHERE\b|\bFROM\b|\bRETURNING\b|`|;)/gi)],
      ...[...source.matchAll(/\.insertInto\('(\w+)'\)[\s\S]*?\.doUpdateSet\(([\s\S]*?)\)\s*\)/g)],
      ...[...source.matchAll(/\.updateTable\('(\w+)'\)[\s\S]*?\.set\(([\s\S]*?)\)\s*\./g)],
    ];
    for (const match of statements) if (distributed.includes(match[1]!)) found.push([file, match[1]!, match[2]!]);
  }
  return found;
}

it('never updates province_code of a distributed table (Citus refuses to change a distribution column)', () => {
  const lists = setListsOnDistributedTables();
  // Not vacuous: the writer's upsert of dossiers and the statistics' upserts are among them.
  expect(lists.map(([, table]) => table)).toEqual(
    expect.arrayContaining(['dossiers', 'dossier_waiting_time', 'province_daily_stats', 'stats_refresh']),
  );
  const offending = lists.filter(([, , list]) => /\bprovince_code\b\s*[=:]/.test(list));
  expect(offending.map(([file, table]) => `${file}: ${table}`)).toEqual([]);
});
