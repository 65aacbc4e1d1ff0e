import type { CursorIndex } from '../cursor-index.js';
import type { ReconcileProvince } from '../portal-reconcile-routes.js';
import type { SimulatorCredentials } from '../province-simulator.js';

/**
 * What a vendor dialect needs from the simulator: the same dossiers the national portal dialect serves (so
 * every dialect tells the same truth), and the options that configure its auth.
 */
export interface DialectContext {
  /** A served (current) province's dossiers in cursor order, (update time, dossier code); undefined if not served. */
  indexOf(provinceCode: string): CursorIndex | undefined;
  /** A served province's summaries and dossiers by code (reconciliation); undefined if not served. */
  provinceOf(provinceCode: string): ReconcileProvince | undefined;
  /** Each dialect reads only its own credential and is open while that is unset. */
  credentials: Readonly<SimulatorCredentials>;
  /** Lifetime of an igate OAuth2 access token, in seconds. */
  tokenTtlSeconds: number;
}
