import type { Logger } from '../../../workers/logger.js';
import { ProvinceSimulator } from '../simulator/province-simulator.js';
import { UsageError } from '../../cli/cli-errors.js';
import { untilSignal } from '../../cli/until-signal.js';

/** Options of `fleet simulate`, as parsed from the command line. */
export interface SimulateOptions {
  provinces: string[];
  dossiers: number;
  seed: number;
  port: number;
  host: string;
  tickMs: number;
  precision: 'second' | 'minute';
  malformedRate: number;
  apiKeyEnv?: string;
}

/** `fleet simulate`: serves simulated province systems until SIGTERM/SIGINT. */
export async function simulateCommand(options: SimulateOptions, logger: Logger): Promise<number> {
  const apiKey = options.apiKeyEnv ? process.env[options.apiKeyEnv] : undefined;
  // The vendor dialects' credentials, from the environment so that they never appear in a process list.
  const env = process.env;
  const credentials = Object.fromEntries(
    Object.entries({
      clientId: env.SIMULATOR_IGATE_CLIENT_ID,
      clientSecret: env.SIMULATOR_IGATE_CLIENT_SECRET,
      apiKey: env.SIMULATOR_DVC_API_KEY,
      bearerToken: env.SIMULATOR_DVC_BEARER_TOKEN,
      username: env.SIMULATOR_LGSP_USERNAME,
      password: env.SIMULATOR_LGSP_PASSWORD,
    }).filter(([, value]) => value),
  );
  if (options.apiKeyEnv && !apiKey)
    throw new UsageError(
      `fleet simulate: --api-key-env: environment variable ${options.apiKeyEnv} is not set; expected it to hold the API key`,
    );
  let simulator: ProvinceSimulator;
  try {
    simulator = new ProvinceSimulator({
      provinces: options.provinces,
      dossiersPerProvince: options.dossiers,
      seed: options.seed,
      tickMs: options.tickMs,
      updatedAtPrecision: options.precision,
      malformedRate: options.malformedRate,
      ...(apiKey ? { apiKey } : {}),
      credentials,
    });
  } catch (error) {
    throw new UsageError(`fleet simulate: ${error instanceof Error ? error.message : String(error)}`);
  }
  const started = simulator.start(options.port, options.host);
  const stopped = untilSignal(
    started.then(() => simulator),
    10_000,
    logger,
  );
  const url = await started;
  console.log(`simulator: ${options.provinces.length} provinces × ${options.dossiers} dossiers on ${url}`);
  console.log(
    `  GET ${url}/api/dossiers?province=${options.provinces[0]}&updatedSince=yyyyMMddHHmmss&afterCode=&limit=1000`,
  );
  console.log(
    `  GET ${url}/igate/api/v1/provinces/${options.provinces[0]}/dossiers (OAuth2 at ${url}/igate/oauth/token)`,
  );
  console.log(`  GET ${url}/dvc/v2/records?province=${options.provinces[0]}   POST ${url}/lgsp/motcua/soap (SOAP)`);
  console.log(`  GET ${url}/_sim/truth (NDJSON)   POST ${url}/_sim/pause | /_sim/resume   GET ${url}/_sim/health`);
  return stopped;
}
