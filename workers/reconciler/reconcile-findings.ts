import type { SourceSummary, SummaryEntry } from '../../connectors/sdk/connector.js';
import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';

/** One dossier whose source state differs from ours in a scope: what the source has, and its record when read. */
export interface SourceSide {
  entry: SummaryEntry;
  record: DossierRecord | null;
}

/**
 * What comparing a bucket found: the source's side of the differing dossiers, codes only we have there, and how many
 * dossiers the source holds in it (its side of the comparison, for the share in sync).
 */
export interface Findings {
  source: Map<string, SourceSide>;
  oursOnly: Set<string>;
  sourceDossiers: number;
}

/** Findings of nothing yet. */
export function emptyFindings(): Findings {
  return { source: new Map(), oursOnly: new Set(), sourceDossiers: 0 };
}

/** How many dossiers a source's summary of a scope says it holds there. */
export function dossiersIn(summary: SourceSummary): number {
  return summary.kind === 'listing' ? summary.entries.length : summary.count;
}

/** A source's listing of a scope against ours: the differing entries of each side, into `findings`. */
export function compareListing(
  theirs: readonly SummaryEntry[],
  ours: readonly SummaryEntry[],
  findings: Findings,
): void {
  const mine = new Map(ours.map((entry) => [entry.dossierCode, entry]));
  for (const entry of theirs) {
    const stored = mine.get(entry.dossierCode);
    mine.delete(entry.dossierCode);
    if (stored && stored.sourceVersion === entry.sourceVersion && stored.status === entry.status) continue;
    findings.source.set(entry.dossierCode, { entry, record: null });
  }
  for (const code of mine.keys()) findings.oursOnly.add(code);
}
