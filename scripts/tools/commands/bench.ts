import type { Config } from '../../../config/env.js';
import { currentProvinces } from '../../../config/provinces.js';
import { Progress } from '../../cli/progress.js';
import { deleteRedisKeys, dropDatabase, freshDatabase, useCompiledFleet } from '../bench-support.js';
import { benchReport, type BenchFigures } from '../bench/bench-report.js';
import { canonicalRecords } from '../bench/canonical-records.js';
import { copyPhase } from '../bench/copy-phase.js';
import { endToEndPhase, type EndToEndOptions } from '../bench/end-to-end-phase.js';
import { naivePhase } from '../bench/naive-phase.js';

/** Options of `fleet bench`. */
export interface BenchOptions {
  /** N: the records of each phase (the naive one takes a sample of at most `naiveSample`). Default 100,000. */
  records: number;
  /** The most records the naive baseline is measured on. Default 20,000. */
  naiveSample: number;
  /**
   * Runs the poller and writer processes from the build (`npm run build`, done first), as the production image runs
   * them, instead of through tsx: tsx's loader thread and the compiled sources it keeps are tens of MB of each
   * process's RSS that a deployed worker does not have. The simulator is a tool and runs through tsx. Default false.
   */
  compiled?: boolean;
}

/** Runs `phase` on a fresh database and queue prefix of its own (`<database>_<suffix>`), removed afterwards. */
async function inFreshDatabase<T>(config: Config, suffix: string, phase: (fresh: Config) => Promise<T>): Promise<T> {
  const fresh = await freshDatabase(config, suffix);
  try {
    return await phase(fresh);
  } finally {
    await dropDatabase(fresh.DATABASE_URL);
    await deleteRedisKeys(fresh.REDIS_URL, fresh.QUEUE_PREFIX);
  }
}

/**
 * `fleet bench`: COPY (the raw limit), the naive baseline, and the pipeline end to end (simulator, poller and
 * writers each a process of its own) for 34 provinces with one and two writer processes and for one province, all
 * in one run on this machine; progress on stderr, the table and the ratio lines on stdout.
 */
export async function benchCommand(config: Config, options: BenchOptions): Promise<void> {
  const status = new Progress(process.stderr, 0);
  if (options.compiled) {
    status.update('npm run build, to run the workers from the build');
    status.done();
    useCompiledFleet();
  }
  const n = options.records;
  status.update(`COPY: ${n} records into a twin of dossiers`);
  status.done();
  const copy = await inFreshDatabase(config, 'bench_copy', (fresh) => copyPhase(fresh, canonicalRecords(n)));

  const sample = Math.min(n, options.naiveSample);
  status.update(`naive: ${sample} records, one job and one upsert each`);
  status.done();
  const naive = await inFreshDatabase(config, 'bench_naive', (fresh) =>
    naivePhase(fresh, canonicalRecords(sample), new Progress(process.stderr, 5_000)),
  );

  const allProvinces = currentProvinces.map(({ code }) => code);
  // N spread over the 34 provinces, rounded up so that every province has the same number.
  const perProvince = Math.ceil(n / allProvinces.length);
  const endToEnd = (suffix: string, run: EndToEndOptions) => {
    status.update(`${run.label}: starting the simulator and the fleet`);
    status.done();
    return inFreshDatabase(config, suffix, (fresh) => endToEndPhase(fresh, run));
  };
  const provinces34 = await endToEnd('bench_e2e34', {
    label: 'e2e 34 provinces, 1 writer',
    provinces: allProvinces,
    dossiersPerProvince: perProvince,
    writers: 1,
  });
  const provinces34TwoWriters = await endToEnd('bench_e2e34_w2', {
    label: 'e2e 34 provinces, 2 writers',
    provinces: allProvinces,
    dossiersPerProvince: perProvince,
    writers: 2,
  });
  const oneProvince = await endToEnd('bench_e2e1', {
    label: 'e2e 1 province, 1 writer',
    provinces: ['79'],
    dossiersPerProvince: n,
    writers: 1,
  });
  const figures: BenchFigures = {
    records: n,
    compiled: options.compiled ?? false,
    copy,
    naive,
    provinces34,
    provinces34TwoWriters,
    oneProvince,
  };
  console.log(benchReport(figures));
}
