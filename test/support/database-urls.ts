/** The shared Postgres the tests run against (DATABASE_URL, or the local one), with any database name in it. */
const baseDatabaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The URL of one database of the tests' Postgres. */
export function urlForDatabase(name: string): string {
  const url = new URL(baseDatabaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The maintenance database, where databases are created and dropped. */
export function adminDatabaseUrl(): string {
  return urlForDatabase('postgres');
}
