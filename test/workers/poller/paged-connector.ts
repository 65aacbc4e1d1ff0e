import type { Connector, Cursor, ReadState, SourcePage } from '../../../connectors/sdk/connector.js';
import type { DossierRecordInput } from '../../../connectors/sdk/dossier-record.js';
import { compareSinceCursors, sinceOf } from '../../../connectors/sdk/since-cursor.js';

/** The time page `page` (from 1) of a PagedConnector is stamped with: its cursor. */
export const sinceOfPage = (page: number) => new Date(Date.UTC(2026, 10, 20, 1, page)).toISOString();

/**
 * A source of `pageCount` pages of `perPage` dossiers, paged by since-time: page n holds the dossiers changed at
 * minute n, with an applicant's name as a vendor's record has. Each page it serves is told to `onServed`.
 */
export class PagedConnector implements Connector {
  constructor(
    private readonly pageCount: number,
    private readonly perPage: number,
    private readonly onServed: (page: SourcePage) => void = () => {},
  ) {}
  startFrom(committed: Cursor | null): ReadState {
    return { since: sinceOf(committed) };
  }
  compareCursors(a: Cursor, b: Cursor): number {
    return compareSinceCursors(a, b);
  }
  async read(state: ReadState | null): Promise<SourcePage> {
    const since = sinceOf(state);
    const page = Array.from({ length: this.pageCount }, (_, index) => index + 1).find(
      (number) => since === null || sinceOfPage(number) > since,
    )!;
    const items = Array.from({ length: this.perPage }, (_, index) => ({
      code: `01.2026.${String(page * 1000 + index).padStart(6, '0')}`,
      updatedAt: sinceOfPage(page),
      applicant: { name: 'Nguyễn Văn A' },
    }));
    const cursor = { since: sinceOfPage(page) };
    const served = { items, cursor, next: page === this.pageCount ? null : cursor };
    this.onServed(served);
    return served;
  }
  map(item: unknown): DossierRecordInput {
    const { code, updatedAt } = item as { code: string; updatedAt: string };
    return {
      dossierCode: code,
      status: 2,
      sourceStatus: '2',
      sourceUpdatedAt: new Date(updatedAt),
      sourceVersion: 1,
    } as DossierRecordInput;
  }
  mappedFields() {
    return [
      { field: 'dossierCode', path: 'code' },
      { field: 'status', path: 'status' },
    ];
  }
}
