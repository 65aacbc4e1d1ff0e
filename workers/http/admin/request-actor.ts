import type { FastifyRequest } from 'fastify';
import { keyActor, type Actor } from '../../control-plane/audit.js';

/** Who makes an admin request's change: its key (set by the admin API's guard before any handler runs). */
export function requestActor(request: FastifyRequest): Actor {
  if (!request.apiKey) throw new Error('an admin route ran without a verified API key: the guard must come first');
  return keyActor(request.apiKey);
}
