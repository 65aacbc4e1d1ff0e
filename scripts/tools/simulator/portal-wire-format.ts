import { formatVietnamTime } from '../../../connectors/sdk/dates.js';
import type { MalformedKind, SimulatedDossier } from './simulated-dossier.js';

/** One dossier as the national portal dialect serves it: PascalCase names, `yyyyMMddHHmmss` Vietnam times. */
export interface PortalDossierItem {
  MaHoSo: string;
  MaTinh: string;
  MaTTHC: string;
  TenTTHC: string;
  MaLinhVuc: string;
  DonViXuLy: string;
  TenDonViXuLy: string;
  KenhThucHien: number;
  LoaiDoiTuong: number;
  TrangThaiHoSo: string;
  NgayNopHoSo: string;
  NgayTiepNhan: string | null;
  NgayHenTra: string | null;
  NgayKetThucXuLy: string | null;
  NgayTra: string | null;
  NgayTuChoi: string | null;
  NgayCapNhat: string;
  PhienBan: number;
  ChuHoSo: string;
  SoGiayToChuHoSo: string;
  SoDienThoai: string;
  DiaChi: string;
}

/** What the simulator knows to be true about one dossier, to check a consumer's copy against. */
export interface TruthRow {
  provinceCode: string;
  dossierCode: string;
  status: number;
  version: number;
  /** ISO 8601, UTC. */
  updatedAt: string;
  malformed: MalformedKind | null;
}

/** Served for `unknown_status` dossiers: not a national status code. */
export const unknownStatusValue = '99';
/** Served as NgayHenTra for `bad_date` dossiers: the right shape, but 31 February at 25 o'clock. */
export const badDateValue = '20260231250000';

const vietnamTime = (at: number | null) => (at === null ? null : formatVietnamTime(new Date(at)));

/** The handling agency's identifier (MaDinhDanh), e.g. `000.00.01.H79`: every dialect serves the same one. */
export function agencyCode(dossier: SimulatedDossier): string {
  return `000.00.${dossier.procedure.agencyNumber}.H${dossier.provinceCode}`;
}

/** The wire item for a dossier, broken the way its `malformed` kind says. */
export function toPortalItem(dossier: SimulatedDossier): PortalDossierItem {
  const { procedure, applicant } = dossier;
  return {
    MaHoSo: dossier.code,
    MaTinh: dossier.provinceCode,
    MaTTHC: procedure.code,
    TenTTHC: procedure.name,
    MaLinhVuc: procedure.sectorCode,
    DonViXuLy: agencyCode(dossier),
    TenDonViXuLy: procedure.agencyName,
    KenhThucHien: dossier.channel,
    LoaiDoiTuong: dossier.applicantType,
    TrangThaiHoSo: dossier.malformed === 'unknown_status' ? unknownStatusValue : String(dossier.status),
    NgayNopHoSo: formatVietnamTime(new Date(dossier.submittedAt)),
    NgayTiepNhan: vietnamTime(dossier.receivedAt),
    NgayHenTra: dossier.malformed === 'bad_date' ? badDateValue : vietnamTime(dossier.dueAt),
    NgayKetThucXuLy: vietnamTime(dossier.finishedAt),
    NgayTra: vietnamTime(dossier.returnedAt),
    NgayTuChoi: vietnamTime(dossier.rejectedAt),
    NgayCapNhat: formatVietnamTime(new Date(dossier.updatedAt)),
    PhienBan: dossier.version,
    ChuHoSo: applicant.fullName,
    SoGiayToChuHoSo: applicant.idNumber,
    SoDienThoai: applicant.phone,
    DiaChi: applicant.address,
  };
}

/** The truth row for a dossier: its real status even when the wire shows a broken one. */
export function toTruthRow(dossier: SimulatedDossier): TruthRow {
  return {
    provinceCode: dossier.provinceCode,
    dossierCode: dossier.code,
    status: dossier.status,
    version: dossier.version,
    updatedAt: new Date(dossier.updatedAt).toISOString(),
    malformed: dossier.malformed,
  };
}
