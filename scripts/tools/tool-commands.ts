import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/env.js';
import { createLogger } from '../../workers/logger.js';
import { fraction, integer, provinceList } from '../cli/option-parsers.js';

// The tools' verbs, which a checkout's `fleet` has beside the production ones and the image has not: the
// province simulator, the demo on this machine, and the benchmark.

/** Adds `simulate`, `demo` and `bench` to the command line. */
export function addToolCommands(program: Command): Command {
  program
    .command('simulate')
    .description('run the province simulator: province systems on loopback whose dossiers move over time')
    .option('--provinces <codes>', 'current province codes, comma-separated', provinceList, ['01', '79', '48'])
    .option('--dossiers <n>', 'dossiers per province', integer('--dossiers', 1), 20_000)
    .option('--seed <n>', 'seed of the generated data', integer('--seed', 0), 1)
    .option('--port <n>', 'port to listen on', integer('--port', 0), 9090)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--tick-ms <n>', 'milliseconds between status movements', integer('--tick-ms', 10), 200)
    .addOption(
      new Option('--precision <unit>', 'precision of update times').choices(['second', 'minute']).default('second'),
    )
    .option('--malformed-rate <fraction>', 'fraction of records served malformed', fraction('--malformed-rate'), 0)
    .option('--api-key-env <name>', 'environment variable holding the API key clients must send as X-Api-Key')
    .action(async (options) => {
      const { simulateCommand } = await import('./commands/simulate.js');
      process.exitCode = await simulateCommand(options, createLogger(loadConfig().LOG_LEVEL));
    });

  program
    .command('demo')
    .description('simulator + the whole fleet on this machine: watch dossiers sync, then a per-province summary')
    .option('--provinces <codes>', 'current province codes, comma-separated', provinceList, ['01', '79', '48'])
    .option('--dossiers <n>', 'dossiers per province', integer('--dossiers', 1), 20_000)
    .option('--seed <n>', 'seed of the simulated data', integer('--seed', 0), 1)
    .option(
      '--malformed-rate <fraction>',
      'fraction of records served malformed (dead letters)',
      fraction('--malformed-rate'),
      0.0005,
    )
    .option('--exit', 'exit after the summary instead of running until Ctrl-C', false)
    .action(
      async (options: {
        provinces: string[];
        dossiers: number;
        seed: number;
        malformedRate: number;
        exit: boolean;
      }) => {
        const { demoCommand } = await import('./commands/demo.js');
        const settings = loadConfig();
        // Progress and the summary are the demo's output; log lines only when asked for.
        const logger = createLogger(process.env.LOG_LEVEL ? settings.LOG_LEVEL : 'warn');
        const { exitCode } = await demoCommand(settings, { ...options, progress: true }, logger);
        process.exitCode = exitCode;
      },
    );

  program
    .command('bench')
    .description(
      'measure in one run: COPY (the raw limit), the naive one-job-one-upsert baseline, and the pipeline end to end ' +
        '(simulator, poller and writers as processes) for 34 provinces (1 and 2 writers) and for one province',
    )
    .option('--records <n>', 'N: the records of each phase', integer('--records', 100), 100_000)
    .option(
      '--naive-sample <n>',
      'the most records the naive baseline is measured on',
      integer('--naive-sample', 100),
      20_000,
    )
    .option(
      '--compiled',
      'run the poller and writer processes from the build (npm run build, done first), as the image runs them',
      false,
    )
    .action(async (options: { records: number; naiveSample: number; compiled: boolean }) => {
      const { benchCommand } = await import('./commands/bench.js');
      await benchCommand(loadConfig(), options);
    });
  return program;
}
