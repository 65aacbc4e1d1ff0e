import { Command, CommanderError, Option } from 'commander';
import { loadConfig, type Config } from '../../config/env.js';
import { createLogger } from '../../workers/logger.js';
import { exitCodes, exitCodesHelp, reportCliError } from './cli-errors.js';
import { integer } from './option-parsers.js';
import { addOutputOption, type MachineFormat } from './output-format.js';
import { packageVersion } from '../../config/package-version.js';
import type { ApiKeyScope } from '../../workers/control-plane/api-key-store.js';
import { StartAbortedError } from '../../workers/start-aborted-error.js';
import { untilSignal } from './until-signal.js';

// The production `fleet`: migrate, start, and operating the fleet (connectors, dead letters, failed batches, keys).
// Each verb loads its modules when it runs: `fleet connector list` need not load BullMQ or fastify, which keeps
// every invocation about a second shorter.

function config(): Config {
  return loadConfig();
}

/** The `-o` option as a verb's action receives it. */
type Output = { output?: MachineFormat };

/** The production command line: every verb an operator runs against a fleet. The tools add theirs in a checkout. */
export function createProgram(): Command {
  const program = new Command('fleet')
    .description('dossier-sync: keeps the national public service portal in step with every province system')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--debug', 'on an unexpected error, print its stack trace too')
    .addHelpText('after', exitCodesHelp)
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
    .addOption(
      new Option(
        '--role <roles>',
        'all, or one or more of gateway, poller, writer, scheduler, reconciler (comma-separated)',
      ).default('all'),
    )
    .action(async (options: { role: string }) => {
      const settings = config();
      const logger = createLogger(settings.LOG_LEVEL);
      // A running fleet's crash goes to its log with the stack, before the one line on stderr.
      process.prependListener('uncaughtException', (error) =>
        logger.fatal({ err: error }, 'uncaught exception: exiting'),
      );
      process.prependListener('unhandledRejection', (error) =>
        logger.fatal({ err: error }, 'unhandled rejection: exiting'),
      );
      // The signal handlers go in before the fleet's modules load: an orchestrator's SIGTERM while a restarted worker
      // still starts is then a clean stop once it is up (exit 0), not the default death by signal.
      const abortStart = new AbortController();
      const started = Promise.all([import('../../workers/fleet.js'), import('./commands/start.js')]).then(
        ([{ startFleet }, { parseRoles }]) => startFleet(settings, parseRoles(options.role), logger, abortStart.signal),
      );
      const stopped = untilSignal(started, settings.SHUTDOWN_TIMEOUT_MS, logger, abortStart);
      // A start-up given up because a signal came (untilSignal aborted it) is a stop, not a failure.
      await started.catch((error: unknown) => {
        if (!(error instanceof StartAbortedError)) throw error;
      });
      const exitCode = await stopped;
      // Exit now rather than when the event loop drains: a connection or timer still referenced after the stop (a
      // library's reconnect after Redis lost its data, say) would otherwise keep a stopped worker alive until the
      // orchestrator's SIGKILL, and hold up a rolling deploy.
      if (exitCode !== 0) logger.warn({ resources: process.getActiveResourcesInfo() }, 'exiting with these still open');
      process.exit(exitCode);
    });

  addConnectorCommands(program);
  addApiKeyCommands(program);
  addDeadLetterCommands(program);
  addFailedBatchCommands(program);
  addStatsCommands(program);
  addBackfillCommands(program);
  addSecretsCommands(program);
  addAuditCommands(program);
  return program;
}

function addAuditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description('the audit trail: every change made through the admin API or fleet, who made it and when');
  addOutputOption(
    audit
      .command('list')
      .description('changes oldest first: when, who (key or cli user), what, on which connector or key')
      .option('--connector <id>', 'only changes to this connector')
      .option('--since <time>', 'only changes at or after this time (ISO 8601)')
      .option('--limit <n>', 'at most this many changes (at most 1000)', integer('--limit', 1), 100),
  ).action(async (options: { connector?: string; since?: string; limit: number } & Output) => {
    const { auditList } = await import('./commands/audit.js');
    await auditList(config(), options);
  });
}

function addBackfillCommands(program: Command): void {
  addOutputOption(
    program
      .command('backfill')
      .description(
        "read a connector's history over [--from, --to) window by window, in this process, behind the live sync; resumable (run it again), one per connector at a time",
      )
      .option('--connector <id>', 'the connector to backfill (with --status: only its runs)')
      .option('--from <time>', 'start of the range of source update times, inclusive (ISO 8601)')
      .option('--to <time>', 'end of the range, exclusive (ISO 8601)')
      .option(
        '--window-hours <n>',
        "hours per window (default: the definition's backfill.windowHours, else 24)",
        integer('--window-hours', 1),
      )
      .option('--status', 'list backfill runs, newest first, instead of running one')
      .option('--cancel', "give up the connector's unfinished run (what it stored stays)")
      .option('--limit <n>', 'with --status: at most this many runs', integer('--limit', 1), 20),
  ).action(
    async (
      options: {
        connector?: string;
        from?: string;
        to?: string;
        windowHours?: number;
        status?: boolean;
        cancel?: boolean;
        limit: number;
      } & Output,
    ) => {
      const { backfillCommand } = await import('./commands/backfill.js');
      await backfillCommand(config(), options);
    },
  );
  addOutputOption(
    program
      .command('reconcile')
      .description(
        "compare a connector's copy with its source over [--from, --to) (default: the last 30 days) day by day, by the source's summaries or page by page, and repair what differs; resumable (run it again), one per connector at a time; --report lists runs and anomalies",
      )
      .option('--connector <id>', 'the connector to reconcile (with --report: only its runs)')
      .option(
        '--from <time>',
        'start of the range of source update times, inclusive (ISO 8601; default: 30 days before --to)',
      )
      .option('--to <time>', 'end of the range, exclusive (ISO 8601; default: now)')
      .option('--report', 'list recent reconcile runs, what they found, and the anomalies recorded')
      .option('--limit <n>', 'with --report: at most this many runs and anomalies', integer('--limit', 1), 20),
  ).action(
    async (options: { connector?: string; from?: string; to?: string; report?: boolean; limit: number } & Output) => {
      const { reconcileCommand } = await import('./commands/reconcile.js');
      await reconcileCommand(config(), options);
    },
  );
}

function addStatsCommands(program: Command): void {
  const stats = program
    .command('stats')
    .description("the read API's statistics: daily aggregates per province, refreshed by the scheduler role");

  addOutputOption(
    stats
      .command('refresh')
      .description(
        'recompute now the statistics of every province whose dossiers changed since its last refresh, and print what was refreshed and how long it took',
      )
      .option('--province <code>', 'only this (current) province')
      .option('--force', 'recompute even a province that did not change'),
  ).action(async (options: { province?: string; force?: boolean } & Output) => {
    const { statsRefresh } = await import('./commands/stats.js');
    await statsRefresh(config(), options);
  });
}

function addSecretsCommands(program: Command): void {
  const secrets = program
    .command('secrets')
    .description(
      'the master key under the webhook secrets (SECRETS_KEYS, newest first): re-seal, and see which key seals what',
    );

  addOutputOption(
    secrets
      .command('rekey')
      .description(
        'seal every stored webhook secret not on the newest key of SECRETS_KEYS with it (the secrets stay the same); resumable',
      )
      .option('--batch <count>', 'secrets re-sealed per transaction', integer('--batch', 1), 100),
  ).action(async (options: { batch: number } & Output) => {
    const { secretsRekey } = await import('./commands/secrets.js');
    await secretsRekey(config(), options);
  });

  addOutputOption(
    secrets.command('status').description('count the stored webhook secrets sealed with each key'),
  ).action(async (options: Output) => {
    const { secretsStatus } = await import('./commands/secrets.js');
    await secretsStatus(config(), options);
  });
}

function addConnectorCommands(program: Command): void {
  const connector = program
    .command('connector')
    .description(
      'register and operate the connectors of province systems (the registry; the scheduler follows within 5 s)',
    );
  const connectorCommands = () => import('./commands/connector.js');

  addOutputOption(
    connector
      .command('add')
      .description('validate a definition file, store it and schedule the connector')
      .requiredOption('--file <path>', 'the connector definition (YAML or JSON)'),
    ['json', 'yaml'],
  ).action(async (options: { file: string } & Output) => {
    await (await connectorCommands()).connectorAdd(config(), options.file, options);
  });

  addOutputOption(
    connector
      .command('update')
      .description("replace a registered connector's definition (its state, cursor and data are kept)")
      .argument('[id]', 'the connector id; when given, it must be the id in the file')
      .requiredOption('--file <path>', 'the connector definition (YAML or JSON)'),
    ['json', 'yaml'],
  ).action(async (id: string | undefined, options: { file: string } & Output) => {
    await (await connectorCommands()).connectorUpdate(config(), options.file, id, options);
  });

  addOutputOption(
    connector
      .command('list')
      .description('every connector: state, last success, last error, cursor')
      .option('--all', 'include removed connectors', false),
  ).action(async (options: { all: boolean } & Output) => {
    await (await connectorCommands()).connectorList(config(), options);
  });

  addOutputOption(
    connector
      .command('show')
      .description('the stored definition as YAML, with state and cursor')
      .argument('<id>', 'the connector id'),
    ['json', 'yaml'],
  ).action(async (id: string, options: Output) => {
    await (await connectorCommands()).connectorShow(config(), id, options);
  });

  addOutputOption(
    connector
      .command('status')
      .description(
        "where the connector's sync stands: its run (pages, records, records/s), position, last error, state, pushes and the dossiers stored",
      )
      .argument('<id>', 'the connector id'),
  ).action(async (id: string, options: Output) => {
    const { connectorStatusCommand } = await import('./commands/connector-status.js');
    await connectorStatusCommand(config(), id, options);
  });

  addOutputOption(
    connector
      .command('check')
      .description(
        'connect, authenticate, read and map one page (or map a sample pushed body): what would be stored and dead-lettered, and why (writes nothing); exit 1 on any dead letter beyond the accepted share',
      )
      .argument('[id]', 'a registered connector')
      .option('--file <path>', 'a definition file, checked before it is added')
      .option(
        '--sample <path>',
        'a webhook body (JSON) as the system pushes it, mapped instead of reading a page: no network',
      )
      .option(
        '--accept-dead-letters <percent>',
        'the share of records (0-100) that may be dead-lettered and the check still pass (default 0)',
      ),
  ).action(
    async (
      id: string | undefined,
      options: { file?: string; sample?: string; acceptDeadLetters?: string } & Output,
    ) => {
      process.exitCode = await (await connectorCommands()).connectorCheck(config(), id, options);
    },
  );

  const stateVerbs = [
    ['pause', 'stop scheduling poll runs and refuse pushes (cursor and data kept)', 'connectorPause'],
    ['resume', 'schedule poll runs again, from the committed cursor, and take pushes again', 'connectorResume'],
    ['remove', 'stop scheduling for good; dossiers, cursor and dead letters are kept', 'connectorRemove'],
  ] as const;
  for (const [name, description, verb] of stateVerbs) {
    addOutputOption(connector.command(name).description(description).argument('<id>', 'the connector id')).action(
      async (id: string, options: Output) => {
        await (await connectorCommands())[verb](config(), id, options);
      },
    );
  }

  connector
    .command('rotate-secret')
    .description('issue a new webhook secret (whsec_…) and print it once; the old one stays valid for the grace period')
    .argument('<id>', 'the connector id')
    .option(
      '--grace <duration>',
      'how long the previous secret stays valid: 30m, 24h, 7d…; 0 refuses it at once',
      '24h',
    )
    .action(async (id: string, options: { grace: string }) => {
      const { connectorRotateSecret } = await import('./commands/webhook-secret.js');
      await connectorRotateSecret(config(), id, options);
    });
}

function addApiKeyCommands(program: Command): void {
  const apikey = program.command('apikey').description('keys of the admin and read HTTP APIs (stored only hashed)');
  const apiKeyCommands = () => import('./commands/apikey.js');

  apikey
    .command('create')
    .description('create a key and print it once, alone on the last line')
    .requiredOption('--name <name>', 'who or what uses the key, e.g. "hcm-it-team"')
    .addOption(
      new Option('--scope <scope>', 'admin: the admin API; portal:read: the read API of the national portal')
        .choices(['admin', 'portal:read'])
        .makeOptionMandatory(),
    )
    .option(
      '--province <codes>',
      'bind the key to these current (2025) province codes, comma-separated, e.g. 24,48: it reaches only their connectors, dossiers and statistics (default: national, every province)',
    )
    .action(async (options: { name: string; scope: ApiKeyScope; province?: string }) => {
      await (await apiKeyCommands()).apiKeyCreate(config(), options);
    });

  addOutputOption(
    apikey
      .command('list')
      .description('every key: id, name, scope, provinces, created, last used, revoked (never the key)'),
  ).action(async (options: Output) => {
    await (await apiKeyCommands()).apiKeyList(config(), options);
  });

  apikey
    .command('revoke')
    .description('revoke a key: it is refused from now on')
    .argument('<id>', 'the key id, as listed')
    .action(async (id: string) => {
      await (await apiKeyCommands()).apiKeyRevoke(config(), id);
    });
}

function addDeadLetterCommands(program: Command): void {
  const deadLetterCommands = () => import('./commands/dlq.js');
  const withFilters = (command: Command) =>
    command
      .option('--connector <id>', 'only this connector')
      .option('--province <code>', 'only this (current) province')
      .option(
        '--reason <reason>',
        'only this reason: unknown_status, missing_field, bad_date, bad_province, bad_value, malformed_record, unstorable',
      )
      .option('--since <time>', 'received at or after (ISO 8601)')
      .option('--until <time>', 'received before (ISO 8601)');
  const dlq = program
    .command('dlq')
    .description('dead letters: records that could not be accepted, kept with their reason and raw payload');

  addOutputOption(
    withFilters(dlq.command('list').description('counts by reason, then the letters'))
      .option('--state <state>', 'new (default), replayed, discarded or all')
      .option('--limit <n>', 'letters shown', integer('--limit', 1), 50),
  ).action(async (options) => {
    await (await deadLetterCommands()).dlqList(config(), options);
  });

  addOutputOption(
    dlq
      .command('show')
      .description('letters with their reason, message and raw payload (personal data was redacted when kept)')
      .argument('<ids...>', 'the letter ids, as listed'),
  ).action(async (ids: string[], options: Output) => {
    await (await deadLetterCommands()).dlqShow(config(), ids, options);
  });

  withFilters(
    dlq
      .command('replay')
      .description(
        "re-run the matching letters through their connector's current definition (after a fix); stored ones are marked replayed",
      ),
  )
    .option('--batch-size <n>', 'letters per transaction', integer('--batch-size', 1), 500)
    .action(async (options) => {
      await (await deadLetterCommands()).dlqReplay(config(), options);
    });

  withFilters(dlq.command('discard').description('mark the matching letters discarded (they are kept)'))
    .option('--all-new', 'discard every new letter (no filter needed)')
    .action(async (options) => {
      await (await deadLetterCommands()).dlqDiscard(config(), options);
    });
}

function addFailedBatchCommands(program: Command): void {
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
    .description(
      'ingest batches the writer gave up on (every retry spent, or refused by Postgres), kept in Postgres until retried or discarded',
    );

  addOutputOption(
    withBatchFilters(failedBatch.command('list').description('counts by province, then the batches'))
      .option('--state <state>', 'failed (default), retried, discarded or all')
      .option('--limit <n>', 'batches shown', integer('--limit', 1), 50),
  ).action(async (options) => {
    await (await failedBatchCommands()).failedBatchList(config(), options);
  });

  addOutputOption(
    failedBatch
      .command('show')
      .description('one batch: its error, dossier codes, dead letters by reason and cursor move')
      .argument('<id>', 'the failed batch id, as listed')
      .option('--batch', 'print the whole batch as JSON too'),
  ).action(async (id: string, options: { batch?: boolean } & Output) => {
    await (await failedBatchCommands()).failedBatchShow(config(), id, options);
  });

  withBatchFilters(
    failedBatch
      .command('retry')
      .description('queue the batches again, as they were, for the writer; they are marked retried'),
  )
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
}

/** Whether `--debug` was given: parsed, or (for an error before parsing ended) typed before any `--`. */
function debugAsked(program: Command, argv: readonly string[]): boolean {
  if (program.opts<{ debug?: boolean }>().debug === true) return true;
  const end = argv.indexOf('--');
  return argv.slice(2, end === -1 ? undefined : end).includes('--debug');
}

/**
 * Runs a `fleet` command line to its end and sets the exit code (0 done, 1 failed, 2 bad input, 3 not found).
 * Any error is one line on stderr (with `--debug`, its stack trace too); a reader that closes the pipe early
 * (`| head`, `| grep -m1`) ends the command quietly.
 */
export async function runCli(program: Command, argv: readonly string[] = process.argv): Promise<void> {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      // The reader has what it wanted; nothing more can be said to it.
      if (error.code === 'EPIPE') process.exit();
      process.exitCode = reportCliError(error, { debug: debugAsked(program, argv) });
      process.exit();
    });
  }
  const crash = (error: unknown) => {
    reportCliError(error, { debug: debugAsked(program, argv) });
    process.exit(exitCodes.failed);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; a wrong verb or option is bad input.
      process.exitCode = error.exitCode === 0 ? exitCodes.done : exitCodes.badInput;
    } else {
      process.exitCode = reportCliError(error, { debug: debugAsked(program, argv) });
    }
  }
}
