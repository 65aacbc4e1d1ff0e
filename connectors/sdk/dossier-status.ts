/**
 * The national dossier status list (TrangThaiHoSo), see shared/domain.md. Codes are the contract with the
 * national portal; every connector maps its vendor's codes onto them.
 */
export const dossierStatuses = {
  1: { vi: 'Mới đăng ký', meaning: 'submitted, not yet accepted', group: 'intake' },
  2: { vi: 'Được tiếp nhận', meaning: 'accepted for processing', group: 'in_progress' },
  3: { vi: 'Không được tiếp nhận', meaning: 'refused at intake', group: 'closed' },
  4: { vi: 'Đang xử lý', meaning: 'being processed', group: 'in_progress' },
  5: { vi: 'Yêu cầu bổ sung giấy tờ', meaning: 'supplement requested from applicant', group: 'waiting_on_applicant' },
  6: { vi: 'Yêu cầu thực hiện nghĩa vụ tài chính', meaning: 'fees/taxes requested', group: 'waiting_on_applicant' },
  7: { vi: 'Công dân yêu cầu rút hồ sơ', meaning: 'withdrawn by applicant', group: 'closed' },
  8: { vi: 'Dừng xử lý', meaning: 'processing stopped', group: 'closed' },
  9: { vi: 'Đã xử lý xong', meaning: 'processed, result ready', group: 'done' },
  10: { vi: 'Đã trả kết quả', meaning: 'result returned to applicant', group: 'done' },
} as const;

/** A national status code, 1 to 10. */
export type DossierStatus = keyof typeof dossierStatuses;

export const statusCodes = Object.keys(dossierStatuses).map(Number) as DossierStatus[];

/** True for a national status code. */
export function isDossierStatus(value: unknown): value is DossierStatus {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 10;
}

/** The English words open-source one-stop-shop systems use for the national codes. */
export const englishStatusWords: Readonly<Record<string, DossierStatus>> = {
  receiving: 1,
  new: 2,
  denied: 3,
  processing: 4,
  waiting: 5,
  paying: 6,
  cancelled: 7,
  unresolved: 8,
  releasing: 9,
  done: 10,
};

/**
 * The Vietnamese labels of the national list (NFC, lower case) → national code. A Map: a vendor value such as
 * "constructor" finds nothing.
 */
export const vietnameseStatusLabels: ReadonlyMap<string, DossierStatus> = new Map(
  statusCodes.map((code) => [dossierStatuses[code].vi.normalize('NFC').toLowerCase(), code]),
);

/** Transitions our model expects; anything else is still applied (the province is the record) but reported. */
export const expectedTransitions: Readonly<Record<DossierStatus, readonly DossierStatus[]>> = {
  1: [2, 3, 4, 7],
  2: [4, 5, 6, 7, 8, 9],
  3: [],
  4: [5, 6, 7, 8, 9],
  5: [2, 4, 6, 7, 8, 9],
  6: [4, 7, 8, 9],
  7: [],
  8: [4],
  9: [10, 4],
  10: [],
};

/** Statuses in which a dossier is still being processed (for "overdue in progress"). */
export const inProgressStatuses: readonly DossierStatus[] = [2, 4, 5, 6];
/** Statuses that count as finished for the on-time rate. */
export const finishedStatuses: readonly DossierStatus[] = [9, 10];
