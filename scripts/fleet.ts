import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadConfig, type Config } from '../config/env.js';
import { createLogger } from '../workers/logger.js';
import { reportCliError } from './commands/cli-errors.js';

// Each verb loads its modules when it runs: `fleet connector list` need not load BullMQ, fastify or the
// simulator, which keeps every invocation about a second shorter.

const integer = (_name: string, min: number) => (value: string) => {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min) throw new InvalidArgumentError(`expected a whole number of at least ${min}`);
  return number;
};
const fraction = (_name: string) => (value: string) => {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < 0 || number > 1) throw new InvalidArgumentError('expected a number from 0 to 1');
  return number;
};
const provinceList = (value: string) => value.split(',').map((code) => code.trim()).filter(Boolean);

function config(): Config {
  return loadConfig();
}

const program = new Command('fleet')
  .description('dossier-sync: keeps the national public service portal in step with every province system')
  .showHelpAfterError()
  .exitOverride();

program
  .command('migrate')
  .description('create the database if needed and bring its schema up to date (idempotent)')
  .action(async () => {
    const { migrateCommand } = await import('./commands/migrate.js');
    const applied = await migrateCommand(config());
    console.log(applied.length > 0 ? `migrated: ${applied.join(', ')}` : 'schema already up to date');
  });

program
  .command('start')
  .description('run fleet roles until SIGTERM/SIGINT')
  .addOption(new Option('--role <roles>', 'all, or one or more of gateway, poller, writer, scheduler (comma-separated)').default('all'))
  .action(async (options: { role: string }) => {
    const [{ startFleet }, { parseRoles }, { untilSignal }] = await Promise.all([
      import('../workers/fleet.js'),
      import('./commands/start.js'),
      import('./commands/until-signal.js'),
    ]);
    const settings = config();
    const logger = createLogger(settings.LOG_LEVEL);
    const started = startFleet(settings, parseRoles(options.role), logger);
    const stopped = untilSignal(started, settings.SHUTDOWN_TIMEOUT_MS, logger);
    await started;
    const exitCode = await stopped;
    // Exit now rather than when the event loop drains: a connection or timer still referenced after the stop (a
    // library's reconnect after Redis lost its data, say) would otherwise keep a stopped worker alive until the
    // orchestrator's SIGKILL, and hold up a rolling deploy.
    if (exitCode !== 0) logger.warn({ resources: process.getActiveResourcesInfo() }, 'exiting with these still open');
    process.exit(exitCode);
  });

program
  .command('simulate')
  .description('run the province simulator: province systems on loopback whose dossiers move over time')
  .option('--provinces <codes>', 'current province codes, comma-separated', provinceList, ['01', '79', '48'])
  .option('--dossiers <n>', 'dossiers per province', integer('--dossiers', 1), 20_000)
  .option('--seed <n>', 'seed of the generated data', integer('--seed', 0), 1)
  .option('--port <n>', 'port to listen on', integer('--port', 0), 9090)
  .option('--host <address>', 'address to listen on', '127.0.0.1')
  .option('--tick-ms <n>', 'milliseconds between status movements', integer('--tick-ms', 10), 200)
  .addOption(new Option('--precision <unit>', 'precision of update times').choices(['second', 'minute']).default('second'))
  .option('--malformed-rate <fraction>', 'fraction of records served malformed', fraction('--malformed-rate'), 0)
  .option('--api-key-env <name>', 'environment variable holding the API key clients must send as X-Api-Key')
  .action(async (options) => {
    const { simulateCommand } = await import('./commands/simulate.js');
    process.exitCode = await simulateCommand(options, createLogger(config().LOG_LEVEL));
  });

program
  .command('demo')
  .description('simulator + the whole fleet on this machine: watch dossiers sync, then a per-province summary')
  .option('--provinces <codes>', 'current province codes, comma-separated', provinceList, ['01', '79', '48'])
  .option('--dossiers <n>', 'dossiers per province', integer('--dossiers', 1), 20_000)
  .option('--seed <n>', 'seed of the simulated data', integer('--seed', 0), 1)
  .option('--malformed-rate <fraction>', 'fraction of records served malformed (dead letters)', fraction('--malformed-rate'), 0.0005)
  .option('--exit', 'exit after the summary instead of running until Ctrl-C', false)
  .action(async (options: { provinces: string[]; dossiers: number; seed: number; malformedRate: number; exit: boolean }) => {
    const { demoCommand } = await import('./commands/demo.js');
    const settings = config();
    // Progress lines are the demo's output; log lines only when asked for.
    const logger = createLogger(process.env.LOG_LEVEL ? settings.LOG_LEVEL : 'warn');
    const { exitCode } = await demoCommand(settings, { ...options, progress: true }, logger);
    process.exitCode = exitCode;
  });

program
  .command('bench')
  .description('measure: demo sync of 100,000 dossiers of one province, and the writer alone (inserts, updates, stale)')
  .option('--dossiers <n>', 'dossiers of the one province', integer('--dossiers', 1000), 100_000)
  .action(async (options: { dossiers: number }) => {
    const { benchCommand } = await import('./commands/bench.js');
    await benchCommand(config(), options);
  });

const connector = program
  .command('connector')
  .description('register and operate the connectors of province systems (the registry; the scheduler follows within 5 s)');
const connectorCommands = () => import('./commands/connector.js');

connector
  .command('add')
  .description('validate a definition file, store it and schedule the connector')
  .requiredOption('--file <path>', 'the connector definition (YAML or JSON)')
  .action(async (options: { file: string }) => {
    await (await connectorCommands()).connectorAdd(config(), options.file);
  });

connector
  .command('update')
  .description("replace a registered connector's definition (its state, cursor and data are kept)")
  .argument('[id]', 'the connector id; when given, it must be the id in the file')
  .requiredOption('--file <path>', 'the connector definition (YAML or JSON)')
  .action(async (id: string | undefined, options: { file: string }) => {
    await (await connectorCommands()).connectorUpdate(config(), options.file, id);
  });

connector
  .command('list')
  .description('every connector: state, last success, last error, cursor')
  .option('--all', 'include removed connectors', false)
  .action(async (options: { all: boolean }) => {
    await (await connectorCommands()).connectorList(config(), options);
  });

connector
  .command('show')
  .description('the stored definition as YAML, with state and cursor')
  .argument('<id>', 'the connector id')
  .action(async (id: string) => {
    await (await connectorCommands()).connectorShow(config(), id);
  });

connector
  .command('status')
  .description("where the connector's sync stands: its run (pages, records, records/s), position, last error, state, pushes and the dossiers stored; exit 3 if not registered")
  .argument('<id>', 'the connector id')
  .addOption(new Option('-o, --output <format>', 'print the view as json (as the admin API returns it) instead of text').choices(['json']))
  .action(async (id: string, options: { output?: 'json' }) => {
    const { connectorStatusCommand } = await import('./commands/connector-status.js');
    process.exitCode = await connectorStatusCommand(config(), id, options);
  });

connector
  .command('check')
  .description('connect, authenticate, read and map one page (or map a sample pushed body): what would be stored and dead-lettered, and why (writes nothing); exit 1 on any dead letter beyond the accepted share')
  .argument('[id]', 'a registered connector')
  .option('--file <path>', 'a definition file, checked before it is added')
  .option('--sample <path>', 'a webhook body (JSON) as the system pushes it, mapped instead of reading a page: no network')
  .option('--accept-dead-letters <percent>', 'the share of records (0-100) that may be dead-lettered and the check still pass (default 0)')
  .action(async (id: string | undefined, options: { file?: string; sample?: string; acceptDeadLetters?: string }) => {
    process.exitCode = await (await connectorCommands()).connectorCheck(config(), id, options);
  });

connector
  .command('pause')
  .description('stop scheduling poll runs and refuse pushes (cursor and data kept)')
  .argument('<id>', 'the connector id')
  .action(async (id: string) => {
    await (await connectorCommands()).connectorPause(config(), id);
  });

connector
  .command('resume')
  .description('schedule poll runs again, from the committed cursor, and take pushes again')
  .argument('<id>', 'the connector id')
  .action(async (id: string) => {
    await (await connectorCommands()).connectorResume(config(), id);
  });

connector
  .command('remove')
  .description('stop scheduling for good; dossiers, cursor and dead letters are kept')
  .argument('<id>', 'the connector id')
  .action(async (id: string) => {
    await (await connectorCommands()).connectorRemove(config(), id);
  });

connector
  .command('rotate-secret')
  .description('issue a new webhook secret (whsec_…) and print it once; the old one stays valid for the grace period')
  .argument('<id>', 'the connector id')
  .option('--grace <duration>', 'how long the previous secret stays valid: 30m, 24h, 7d…; 0 refuses it at once', '24h')
  .action(async (id: string, options: { grace: string }) => {
    const { connectorRotateSecret } = await import('./commands/webhook-secret.js');
    await connectorRotateSecret(config(), id, options);
  });

const apikey = program.command('apikey').description('keys of the admin and read HTTP APIs (stored only hashed)');
const apiKeyCommands = () => import('./commands/apikey.js');

apikey
  .command('create')
  .description('create a key and print it once, alone on the last line')
  .requiredOption('--name <name>', 'who or what uses the key, e.g. "hcm-it-team"')
  .addOption(new Option('--scope <scope>', 'admin: the admin API; read: the read API').choices(['admin', 'read']).makeOptionMandatory())
  .action(async (options: { name: string; scope: 'admin' | 'read' }) => {
    await (await apiKeyCommands()).apiKeyCreate(config(), options);
  });

apikey
  .command('list')
  .description('every key: id, name, scope, created, last used, revoked (never the key)')
  .action(async () => {
    await (await apiKeyCommands()).apiKeyList(config());
  });

apikey
  .command('revoke')
  .description('revoke a key: it is refused from now on')
  .argument('<id>', 'the key id, as listed')
  .action(async (id: string) => {
    await (await apiKeyCommands()).apiKeyRevoke(config(), id);
  });

const deadLetterCommands = () => import('./commands/dlq.js');
const withFilters = (command: Command) =>
  command
    .option('--connector <id>', 'only this connector')
    .option('--province <code>', 'only this (current) province')
    .option('--reason <reason>', 'only this reason: unknown_status, missing_field, bad_date, bad_province, bad_value, malformed_record, unstorable')
    .option('--since <time>', 'received at or after (ISO 8601)')
    .option('--until <time>', 'received before (ISO 8601)');
const dlq = program.command('dlq').description('dead letters: records that could not be accepted, kept with their reason and raw payload');

withFilters(dlq.command('list').description('counts by reason, then the letters'))
  .option('--state <state>', 'new (default), replayed, discarded or all')
  .option('--limit <n>', 'letters shown', integer('--limit', 1), 50)
  .action(async (options) => {
    await (await deadLetterCommands()).dlqList(config(), options);
  });

dlq
  .command('show')
  .description('letters with their reason, message and raw payload (personal data was redacted when kept)')
  .argument('<ids...>', 'the letter ids, as listed')
  .action(async (ids: string[]) => {
    await (await deadLetterCommands()).dlqShow(config(), ids);
  });

withFilters(dlq.command('replay').description("re-run the matching letters through their connector's current definition (after a fix); stored ones are marked replayed"))
  .option('--batch-size <n>', 'letters per transaction', integer('--batch-size', 1), 500)
  .action(async (options) => {
    await (await deadLetterCommands()).dlqReplay(config(), options);
  });

withFilters(dlq.command('discard').description('mark the matching letters discarded (they are kept)'))
  .option('--all-new', 'discard every new letter (no filter needed)')
  .action(async (options) => {
    await (await deadLetterCommands()).dlqDiscard(config(), options);
  });

const failedBatchCommands = () => import('./commands/failed-batch.js');
const withBatchFilters = (command: Command) =>
  command
    .option('--connector <id>', 'only this connector')
    .option('--province <code>', 'only this (current) province')
    .option('--origin <origin>', 'only batches read by a poller (poll) or pushed to the gateway (push)')
    .option('--since <time>', 'failed (last) at or after (ISO 8601)')
    .option('--until <time>', 'failed (last) before (ISO 8601)');
const failedBatch = program
  .command('failed-batch')
  .description('ingest batches the writer gave up on (every retry spent, or refused by Postgres), kept in Postgres until retried or discarded');

withBatchFilters(failedBatch.command('list').description('counts by province, then the batches'))
  .option('--state <state>', 'failed (default), retried, discarded or all')
  .option('--limit <n>', 'batches shown', integer('--limit', 1), 50)
  .action(async (options) => {
    await (await failedBatchCommands()).failedBatchList(config(), options);
  });

failedBatch
  .command('show')
  .description('one batch: its error, dossier codes, dead letters by reason and cursor move')
  .argument('<id>', 'the failed batch id, as listed')
  .option('--batch', 'print the whole batch as JSON too')
  .action(async (id: string, options: { batch?: boolean }) => {
    await (await failedBatchCommands()).failedBatchShow(config(), id, options);
  });

withBatchFilters(failedBatch.command('retry').description('queue the batches again, as they were, for the writer; they are marked retried'))
  .argument('[ids...]', 'failed batch ids, as listed')
  .option('--all-failed', 'every failed batch (no id or filter needed)')
  .action(async (ids: string[], options) => {
    await (await failedBatchCommands()).failedBatchRetry(config(), ids, options);
  });

withBatchFilters(failedBatch.command('discard').description('mark the batches discarded (they are kept)'))
  .argument('[ids...]', 'failed batch ids, as listed')
  .option('--all-failed', 'every failed batch (no id or filter needed)')
  .action(async (ids: string[], options) => {
    await (await failedBatchCommands()).failedBatchDiscard(config(), ids, options);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are not errors; a wrong verb or option is bad input.
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    process.exitCode = reportCliError(error);
  }
}
