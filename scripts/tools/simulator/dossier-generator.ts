import { formatVietnamTime } from '../../../connectors/sdk/dates.js';
import { day, hour, truncateTo, vietnamDayStart } from './business-calendar.js';
import { deriveSeed, seededRandom, type Random } from './seeded-random.js';
import type { Applicant, Procedure, SimulatedDossier } from './simulated-dossier.js';
import { isFinal, moveOneStep } from './status-movement.js';

/** What decides a province's initial dossiers; equal options give identical dossiers. */
export interface GenerationOptions {
  seed: number;
  baseTime: Date;
  updatedAtPrecision: 'second' | 'minute';
  sameUpdatedAt: boolean;
  malformedRate: number;
}

// The codes have the national shape; pairing them with these names and agencies is illustrative only.
// Agencies follow the 2025 reorganisation (planning merged into finance, transport into construction).
const procedures: readonly Procedure[] = [
  { code: '1.001193', name: 'Đăng ký khai sinh', sectorCode: 'HOTICH', agencyNumber: '01', agencyName: 'Sở Tư pháp' },
  {
    code: '2.000477',
    name: 'Cấp Phiếu lý lịch tư pháp',
    sectorCode: 'LLTP',
    agencyNumber: '01',
    agencyName: 'Sở Tư pháp',
  },
  {
    code: '1.004227',
    name: 'Đăng ký biến động quyền sử dụng đất',
    sectorCode: 'DATDAI',
    agencyNumber: '02',
    agencyName: 'Sở Nông nghiệp và Môi trường',
  },
  {
    code: '2.001610',
    name: 'Đăng ký thành lập doanh nghiệp tư nhân',
    sectorCode: 'DKKD',
    agencyNumber: '03',
    agencyName: 'Sở Tài chính',
  },
  {
    code: '1.009994',
    name: 'Cấp giấy phép xây dựng',
    sectorCode: 'XAYDUNG',
    agencyNumber: '04',
    agencyName: 'Sở Xây dựng',
  },
  {
    code: '1.002804',
    name: 'Cấp đổi giấy phép lái xe',
    sectorCode: 'GPLX',
    agencyNumber: '04',
    agencyName: 'Sở Xây dựng',
  },
];

const channels = [
  [1, 40],
  [2, 55],
  [3, 5],
] as const; // in person, online, post
const applicantTypes = [
  [1, 85],
  [2, 8],
  [3, 2],
  [4, 5],
] as const; // citizen, business, agency, other
const familyNames = [
  'Nguyễn',
  'Trần',
  'Lê',
  'Phạm',
  'Hoàng',
  'Huỳnh',
  'Phan',
  'Vũ',
  'Võ',
  'Đặng',
  'Bùi',
  'Đỗ',
  'Hồ',
  'Ngô',
  'Dương',
  'Lý',
];
const middleNames = ['Văn', 'Thị', 'Hữu', 'Đức', 'Minh', 'Ngọc', 'Thanh', 'Quốc', 'Thu', 'Gia'];
const givenNames = [
  'An',
  'Bình',
  'Châu',
  'Dũng',
  'Giang',
  'Hà',
  'Hải',
  'Hạnh',
  'Hùng',
  'Hương',
  'Khánh',
  'Lan',
  'Linh',
  'Long',
  'Mai',
  'Nam',
  'Nga',
  'Phúc',
  'Phương',
  'Quân',
  'Sơn',
  'Tâm',
  'Thảo',
  'Trang',
  'Tuấn',
  'Vy',
  'Yến',
];
const streets = [
  'Lê Lợi',
  'Trần Hưng Đạo',
  'Nguyễn Huệ',
  'Hai Bà Trưng',
  'Lý Thường Kiệt',
  'Phan Chu Trinh',
  'Quang Trung',
  'Điện Biên Phủ',
];
const wards = ['Hoàn Kiếm', 'Ba Đình', 'Bến Thành', 'Tân Định', 'Hải Châu', 'Ninh Kiều', 'Thủy Xuân', 'Hạc Thành'];

/**
 * The initial dossiers of one province, in sequence order. Each replays a short random history from status 1,
 * so its dates agree with its status, and is then moved by whole days so its latest event falls in the 30
 * days before baseTime (whole days keep every early / on-time / late verdict intact).
 */
export function generateProvinceDossiers(
  provinceCode: string,
  count: number,
  options: GenerationOptions,
): SimulatedDossier[] {
  // Separate streams: changing the malformed rate must not change the dossiers themselves.
  const random = seededRandom(deriveSeed(options.seed, provinceCode));
  const malformedRandom = seededRandom(deriveSeed(options.seed, `${provinceCode}:malformed`));
  const base = options.baseTime.getTime();
  const dossiers: SimulatedDossier[] = [];
  let malformedSoFar = 0;

  for (let sequence = 1; sequence <= count; sequence++) {
    const procedure = random.pick(procedures);
    // Submitted during office hours on some day; which day does not matter, the history is shifted below.
    const submittedAt = truncateTo(vietnamDayStart(base) - 60 * day + random.between(7.5 * hour, 17 * hour), 'second');
    const dossier: SimulatedDossier = {
      provinceCode,
      code: '',
      procedure,
      channel: random.weighted(channels),
      applicantType: procedure.sectorCode === 'DKKD' ? 2 : random.weighted(applicantTypes),
      applicant: fakeApplicant(random, provinceCode),
      status: 1,
      version: 1,
      submittedAt,
      receivedAt: null,
      dueAt: null,
      finishedAt: null,
      returnedAt: null,
      rejectedAt: null,
      lastEventAt: submittedAt,
      updatedAt: 0,
      malformed: null,
      summaryHash: null,
    };
    // Up to six steps: a good share stays in progress, so the running simulator has plenty to move.
    const steps = random.int(0, 6);
    for (let step = 0; step < steps && !isFinal(dossier.status); step++) moveOneStep(dossier, random);
    shiftWholeDays(dossier, base - random.between(0, 29 * day));

    dossier.code = `${provinceCode}.${formatVietnamTime(new Date(dossier.submittedAt)).slice(0, 4)}.${String(sequence).padStart(6, '0')}`;
    dossier.updatedAt = truncateTo(options.sameUpdatedAt ? base : dossier.lastEventAt, options.updatedAtPrecision);
    if (malformedRandom.next() < options.malformedRate) {
      dossier.malformed = malformedSoFar++ % 2 === 0 ? 'unknown_status' : 'bad_date';
    }
    dossiers.push(dossier);
  }
  return dossiers;
}

/**
 * Moves every business date by whole days (keeping times of day) so the latest event lands within the day before
 * `target`.
 */
function shiftWholeDays(dossier: SimulatedDossier, target: number): void {
  const delta = Math.floor((target - dossier.lastEventAt) / day) * day;
  dossier.submittedAt += delta;
  dossier.lastEventAt += delta;
  if (dossier.receivedAt !== null) dossier.receivedAt += delta;
  if (dossier.dueAt !== null) dossier.dueAt += delta;
  if (dossier.finishedAt !== null) dossier.finishedAt += delta;
  if (dossier.returnedAt !== null) dossier.returnedAt += delta;
  if (dossier.rejectedAt !== null) dossier.rejectedAt += delta;
}

function fakeApplicant(random: Random, provinceCode: string): Applicant {
  return {
    fullName: `${random.pick(familyNames)} ${random.pick(middleNames)} ${random.pick(givenNames)}`,
    // A citizen ID (CCCD) opens with the birth province as three digits, then century/sex and birth year.
    idNumber: `0${provinceCode}${random.int(0, 3)}${digits(random, 8)}`,
    phone: `${random.pick(['09', '03', '08', '07'])}${digits(random, 8)}`,
    address: `Số ${random.int(1, 300)} đường ${random.pick(streets)}, phường ${random.pick(wards)}`,
  };
}

function digits(random: Random, count: number): string {
  let text = '';
  for (let i = 0; i < count; i++) text += random.int(0, 9);
  return text;
}
