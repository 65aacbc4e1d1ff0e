import type { CodeSet } from '../../config/provinces.js';
import type { DossierStatus } from './dossier-status.js';

/**
 * What a connector's `map` returns for one source record: the canonical fields of shared/domain.md. It has
 * no field for the applicant's personal data, on purpose (Decree 13/2023/NĐ-CP): it is never stored.
 */
export interface DossierRecordInput {
  /** `MaHoSo`: unique within a province. */
  dossierCode: string;
  /** `MaHoSoKhac`: the code some systems rewrite the dossier to; both are kept. */
  altDossierCode?: string | null;
  /** The province code the record itself carries, when a system holds dossiers of several provinces. */
  provinceCode?: string | null;
  /** The code set of `provinceCode`; defaults to the connector's. */
  provinceCodeSet?: CodeSet | null;
  /** `MaTTHC`, e.g. 2.000477. */
  procedureCode?: string | null;
  /** `MaLinhVuc`. */
  sectorCode?: string | null;
  /** `DonViXuLy`, e.g. 000.00.01.H22. */
  agencyCode?: string | null;
  /** `KenhThucHien`: 1 in person, 2 online, 3 public post. */
  channel?: number | null;
  /** `LoaiDoiTuong`: 1 citizen, 2 business, 3 state agency, 4 other. */
  applicantType?: number | null;
  /** National status code. */
  status: DossierStatus;
  /** The vendor's own status value, kept as received. */
  sourceStatus: string;
  submittedAt?: Date | null;
  receivedAt?: Date | null;
  dueAt?: Date | null;
  finishedAt?: Date | null;
  returnedAt?: Date | null;
  rejectedAt?: Date | null;
  /** When the source last changed the dossier. */
  sourceUpdatedAt: Date;
  /** What orders two updates of one dossier: the source's version counter, or its update time in epoch ms. */
  sourceVersion: number;
}

/**
 * A dossier update in its canonical, validated form: what travels in an ingest batch (JSON, so dates are
 * ISO 8601 UTC strings) and what the writer stores.
 */
export interface DossierRecord {
  /** The current (2025) province the dossier is stored under. */
  provinceCode: string;
  dossierCode: string;
  altDossierCode: string | null;
  /** The province code as the source gave it, and its code set (a dossier filed before the 2025 merger). */
  sourceProvinceCode: string;
  sourceCodeSet: CodeSet;
  procedureCode: string | null;
  sectorCode: string | null;
  agencyCode: string | null;
  channel: number | null;
  applicantType: number | null;
  status: DossierStatus;
  sourceStatus: string;
  submittedAt: string | null;
  receivedAt: string | null;
  dueAt: string | null;
  finishedAt: string | null;
  returnedAt: string | null;
  rejectedAt: string | null;
  sourceUpdatedAt: string;
  sourceVersion: number;
  /** When the fleet received this state (poll fetch or webhook receipt): breaks ties between equal versions. */
  observedAt: string;
  /** The connector that delivered it. */
  connectorId: string;
}

/** The date fields of a dossier, in the order they are stored. */
export const dossierDateFields = [
  'submittedAt',
  'receivedAt',
  'dueAt',
  'finishedAt',
  'returnedAt',
  'rejectedAt',
] as const;
