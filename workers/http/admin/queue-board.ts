import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/schema.js';
import { decorateApiKey, requireApiKey } from '../api-key-auth.js';
import { problem, sendProblem } from '../problem.js';
import type { ApiRateLimitHook } from '../rate-limit/api-rate-limit.js';

/** Where the queue UI is mounted. */
export const queueBoardPath = '/admin/queues';

/** What the queue UI needs. */
export interface QueueBoardOptions {
  db: Kysely<Database>;
  /** The queues it shows: the poll queue and every province's ingest queue. */
  queues: readonly Queue[];
  /** The per-key rate limit; none: not limited. */
  rateLimit?: ApiRateLimitHook;
}

/**
 * bull-board under `/admin/queues`, for operators who inspect and retry jobs: behind a national admin key (the
 * admin API's check, then its rate limit). A province-bound admin key is refused 403, since the board shows and
 * retries every province's jobs. Its routes are left out of the OpenAPI document: they are bull-board's, not ours.
 */
export async function queueBoard(scope: FastifyInstance, options: QueueBoardOptions): Promise<void> {
  decorateApiKey(scope);
  scope.addHook('onRequest', requireApiKey(options.db, 'admin'));
  scope.addHook('onRequest', async (request, reply) => {
    if (request.apiKey?.provinces === null) return;
    return sendProblem(
      reply,
      problem('forbidden', 'the queue UI shows every province: it needs a national admin key, not a province one'),
    );
  });
  if (options.rateLimit) scope.addHook('onRequest', options.rateLimit);
  scope.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });

  const adapter = new FastifyAdapter();
  createBullBoard({
    queues: options.queues.map((queue) => new BullMQAdapter(queue)),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'dossier-sync queues' } },
  });
  adapter.setBasePath(queueBoardPath);
  await scope.register(adapter.registerPlugin());
}
