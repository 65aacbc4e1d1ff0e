import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadConfig, type Config } from '../config/env.js';
import { startFleet } from '../workers/fleet.js';
import { createLogger } from '../workers/logger.js';
import { reportCliError } from './commands/cli-errors.js';
import { demoCommand } from './commands/demo.js';
import { migrateCommand } from './commands/migrate.js';
import { simulateCommand } from './commands/simulate.js';
import { parseRoles } from './commands/start.js';
import { untilSignal } from './commands/until-signal.js';
import { benchCommand } from './commands/bench.js';

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
    const applied = await migrateCommand(config());
    console.log(applied.length > 0 ? `migrated: ${applied.join(', ')}` : 'schema already up to date');
  });

program
  .command('start')
  .description('run fleet roles until SIGTERM/SIGINT')
  .addOption(new Option('--role <roles>', 'all, or one or more of gateway, poller, writer, scheduler (comma-separated)').default('all'))
  .action(async (options: { role: string }) => {
    const settings = config();
    const logger = createLogger(settings.LOG_LEVEL);
    const started = startFleet(settings, parseRoles(options.role), logger);
    const stopped = untilSignal(started, settings.SHUTDOWN_TIMEOUT_MS, logger);
    await started;
    process.exitCode = await stopped;
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
    await benchCommand(config(), options);
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
