/**
 * Field names that carry an applicant's personal data in vendor payloads (shared/domain.md, "Personal
 * data"). Matched case-insensitively against every key, at any depth, before a raw payload is kept.
 */
const personalKeyPatterns = [
  /^chuhoso/i, // applicant name
  /^hoten/i,
  /^tennguoi/i,
  /^nguoi(nop|dung|yeucau)/i,
  /^sogiayto/i, // ID number
  /^(so)?dinhdanh/i,
  /^(so)?(cmnd|cccd)/i,
  /^identity/i,
  /^(so)?dienthoai|^sdt|phone/i,
  /^(dia)?chi(thu)?email|^email/i,
  /^diachi/i,
  /^ngaysinh/i,
  /^applicant$|^applicant(name|id|phone|address|email|birth)/i,
  /^(full)?name$|^address|^idnumber|^birth/i,
];

/** True when a key names personal data, however it is cased or separated (HoTen, ho_ten, ho-ten). */
export function isPersonalKey(key: string): boolean {
  const bare = key.replace(/[\s_-]/g, '');
  return personalKeyPatterns.some((pattern) => pattern.test(bare));
}

/** A copy of a raw payload with every personal field replaced by "[redacted]", safe to store in a dead letter. */
export function redactPersonalData(value: unknown, depth = 0): unknown {
  if (depth > 64) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => redactPersonalData(item, depth + 1));
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      // defineProperty: a "__proto__" key in a vendor payload stays a plain key, never a prototype.
      Object.defineProperty(copy, key, { value: isPersonalKey(key) ? '[redacted]' : redactPersonalData(item, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return copy;
  }
  return value;
}
