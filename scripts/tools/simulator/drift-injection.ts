import type { DossierStatus } from '../../../connectors/sdk/dossier-status.js';
import { day, hour, minute, second, truncateTo } from './business-calendar.js';
import type { CursorIndex } from './cursor-index.js';
import { toPortalItem, type PortalDossierItem } from './portal-wire-format.js';
import type { Random } from './seeded-random.js';
import type { SimulatedDossier } from './simulated-dossier.js';
import { isFinal, moveOneStep, nextStatusWeights } from './status-movement.js';

/**
 * What can go wrong between a province system and the copy, that incremental sync cannot see:
 * - `silent-change`: the state changes (a status step and a new version; a final dossier only a new version, as
 *   a vendor correction) but the update time does not, so no updated-since read returns it again.
 * - `delete`: the dossier disappears from the source (and the truth).
 * - `rewrite-history`: a restored backup: the dossier goes back to an older state — the status it came from, one
 *   version less (0 at the least), an update time 1 hour to 1 day older.
 * - `lost-push`: a new state with a new version, stamped a little after the old update time but before the poll
 *   look-back: as if pushed, acknowledged and lost before it was stored. The new records are returned to deliver.
 */
export const driftKinds = ['silent-change', 'delete', 'rewrite-history', 'lost-push'] as const;
export type DriftKind = (typeof driftKinds)[number];

/** A dossier's state as the source serves it, before or after a drift. */
export interface DossierState {
  status: DossierStatus;
  version: number;
  /** ISO 8601, UTC. */
  updatedAt: string;
}

/** One dossier a drift touched. */
export interface DriftedDossier {
  dossierCode: string;
  before: DossierState;
  /** Null: deleted. */
  after: DossierState | null;
}

/** What `injectDrift` did: exactly which dossiers, in update-time order of their state before. */
export interface DriftReport {
  provinceCode: string;
  kind: DriftKind;
  dossierCodes: string[];
  dossiers: DriftedDossier[];
  /** `lost-push`: the new records in the portal wire format, as the province pushed them; otherwise empty. */
  pushed: PortalDossierItem[];
}

/** Settings of one drift. */
export interface DriftSettings {
  /** How many dossiers to change; fewer when fewer are eligible (the report lists them). */
  count: number;
  /** `lost-push`: the consumer's poll look-back in seconds; the new update time lies before it. Default 120. */
  lookbackSeconds?: number;
  /** Default: the wall clock. The time the look-back is counted back from. */
  now?: number;
}

/** What a drift changes in: one province's dossiers and the simulator's clock settings. */
export interface DriftTarget {
  index: CursorIndex;
  /** Every dossier of the province in cursor order (read once per drift). */
  ordered: readonly SimulatedDossier[];
  random: Random;
  precision: 'second' | 'minute';
  /** Takes a deleted dossier out of everything else that holds it. */
  forget(dossier: SimulatedDossier): void;
}

/**
 * Changes `count` dossiers of one province the way `kind` says, picked spread over the whole period: the
 * province's dossiers in update-time order are cut into `count` equal strides and one is drawn (seeded) in each;
 * an ineligible pick moves on to the next eligible dossier of the stride's order.
 */
export function injectDrift(
  provinceCode: string,
  kind: DriftKind,
  target: DriftTarget,
  settings: DriftSettings,
): DriftReport {
  const { index, ordered, random, precision } = target;
  const unit = precision === 'minute' ? minute : second;
  const now = settings.now ?? Date.now();
  const cutoff = truncateTo(now - (settings.lookbackSeconds ?? 120) * second, precision) - unit;
  const eligible = (dossier: SimulatedDossier) => {
    if (kind === 'rewrite-history') return dossier.version >= 1;
    if (kind === 'lost-push') return !isFinal(dossier.status) && dossier.updatedAt < cutoff;
    return true;
  };
  const picked = pickSpread(ordered, settings.count, random, eligible);
  const report: DriftReport = { provinceCode, kind, dossierCodes: [], dossiers: [], pushed: [] };
  for (const dossier of picked) {
    const before = stateOf(dossier);
    if (kind === 'delete') {
      index.delete(dossier);
      target.forget(dossier);
    } else {
      index.update(dossier, () => {
        if (kind === 'rewrite-history') restoreOlderState(dossier, random, precision);
        else {
          if (!isFinal(dossier.status)) moveOneStep(dossier, random, Math.max(now, dossier.lastEventAt));
          dossier.version += 1;
          // One unit after the old stamp is still before the cutoff (eligible: older than it, both whole units).
          if (kind === 'lost-push') dossier.updatedAt += unit;
        }
      });
    }
    report.dossierCodes.push(dossier.code);
    report.dossiers.push({ dossierCode: dossier.code, before, after: kind === 'delete' ? null : stateOf(dossier) });
    if (kind === 'lost-push') report.pushed.push(toPortalItem(dossier));
  }
  return report;
}

/** `count` distinct eligible dossiers, one drawn per equal stride of the order (seeded). */
function pickSpread(
  ordered: readonly SimulatedDossier[],
  count: number,
  random: Random,
  eligible: (dossier: SimulatedDossier) => boolean,
): SimulatedDossier[] {
  const picked: SimulatedDossier[] = [];
  const taken = new Set<SimulatedDossier>();
  const total = ordered.length;
  const wanted = Math.min(count, total);
  for (let stride = 0; stride < wanted; stride++) {
    const from = Math.floor((stride * total) / wanted);
    const to = Math.floor(((stride + 1) * total) / wanted);
    const start = random.int(from, Math.max(from, to - 1));
    // Wraps round the whole order, so a stride without an eligible dossier borrows one from the next.
    for (let step = 0; step < total; step++) {
      const dossier = ordered[(start + step) % total] as SimulatedDossier;
      if (!taken.has(dossier) && eligible(dossier)) {
        taken.add(dossier);
        picked.push(dossier);
        break;
      }
    }
  }
  return picked;
}

/**
 * The state a backup would hold: the status the dossier came from (one whose next steps include its current one;
 * a first status stays), without the date the later step set, one version less, an older update time.
 */
function restoreOlderState(dossier: SimulatedDossier, random: Random, precision: 'second' | 'minute'): void {
  const sources = (Object.entries(nextStatusWeights) as [string, readonly (readonly [DossierStatus, number])[]][])
    .filter(([, choices]) => choices.some(([to]) => to === dossier.status))
    .map(([from]) => Number(from) as DossierStatus);
  if (sources.length > 0) {
    const previous = random.pick(sources);
    if (dossier.status === 3) dossier.rejectedAt = null;
    if (dossier.status === 9 && previous !== 9) dossier.finishedAt = null;
    if (dossier.status === 10) dossier.returnedAt = null;
    dossier.status = previous;
  }
  dossier.version = Math.max(0, dossier.version - 1);
  dossier.updatedAt = truncateTo(dossier.updatedAt - random.between(hour, day), precision);
}

function stateOf(dossier: SimulatedDossier): DossierState {
  return { status: dossier.status, version: dossier.version, updatedAt: new Date(dossier.updatedAt).toISOString() };
}
