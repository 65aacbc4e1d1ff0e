import type { DossierStatus } from '../../../connectors/sdk/dossier-status.js';

/** How a dossier is broken on the wire, for rehearsing dead letters. */
export type MalformedKind = 'unknown_status' | 'bad_date';

/** The administrative procedure (TTHC) a dossier applies for, and the agency that handles it. */
export interface Procedure {
  code: string;
  name: string;
  sectorCode: string;
  agencyNumber: string;
  agencyName: string;
}

/** The applicant's personal data: served on the wire so consumers can prove they drop it. */
export interface Applicant {
  fullName: string;
  idNumber: string;
  phone: string;
  address: string;
}

/**
 * One dossier as the simulated province system holds it. All times are epoch milliseconds; business times
 * are simulated (derived from the simulator's baseTime), `updatedAt` is real wall-clock time.
 */
export interface SimulatedDossier {
  provinceCode: string;
  /** MaHoSo: `<province>.<year>.<sequence>`, unique within the province. */
  code: string;
  procedure: Procedure;
  /** KenhThucHien: 1 in person, 2 online, 3 public post. */
  channel: 1 | 2 | 3;
  /** LoaiDoiTuong: 1 citizen, 2 business, 3 state agency, 4 organisation / other. */
  applicantType: 1 | 2 | 3 | 4;
  applicant: Applicant;
  status: DossierStatus;
  /** PhienBan: 1 at generation, +1 on every change. */
  version: number;
  submittedAt: number;
  receivedAt: number | null;
  dueAt: number | null;
  finishedAt: number | null;
  returnedAt: number | null;
  rejectedAt: number | null;
  /** The simulated time of the dossier's latest business event; the next event happens after it. */
  lastEventAt: number;
  /** NgayCapNhat, truncated to the simulator's precision; never goes backwards. */
  updatedAt: number;
  malformed: MalformedKind | null;
  /**
   * The dossier's summary hash (province-summaries.ts), kept with the row as a province system keeps it in a generated
   * column: null until a summary first needs it, and stale once (version, status) differ from the ones it is of.
   */
  summaryHash: SummaryHash | null;
}

/** A dossier's summary hash in two 32-bit halves, and the (version, status) it was computed from. */
export interface SummaryHash {
  version: number;
  status: number;
  high: number;
  low: number;
}
