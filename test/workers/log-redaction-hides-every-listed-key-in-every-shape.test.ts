import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { isPersonalKey } from '../../connectors/sdk/personal-data.js';
import {
  personalDataKeys,
  maxLoggedDepth,
  redactionCensor,
  redactPaths,
  secretKeys,
} from '../../workers/log-redaction.js';
import { createLogger, jobLogger, type Logger } from '../../workers/logger.js';

// The redaction of workers/log-redaction.ts, through the real createLogger: every listed key, at every depth a line
// shows, under objects and lists, holding a text, a number, an object, a list — in a line's fields and in a child
// logger's bindings, as listed and in another case — comes out as '[redacted]', and nothing of the planted value is
// left; deeper than a line shows, the container goes whole. What is not listed still comes out (the logger is not
// silent), and so do a job's ids.

/** A logger writing into memory, and its lines parsed. */
function capture(): { logger: Logger; text: () => string; lines: () => Record<string, unknown>[] } {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  const logger = createLogger('trace', 'fleet', sink);
  return {
    logger,
    text: () => out,
    lines: () =>
      out
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

let sequence = 0;
/** A value unlike any other in the output, in one of the shapes a payload's field may have. */
function planted(shape: number): { value: unknown; marks: string[] } {
  const mark = `Sentinel${(sequence += 1)}Xq`;
  const number = 7_000_000_000 + sequence;
  switch (shape % 5) {
    case 0:
      return { value: mark, marks: [mark] };
    case 1:
      return { value: number, marks: [String(number)] };
    case 2:
      return { value: { HoTen: mark, nested: { deeper: [mark, number] } }, marks: [mark, String(number)] };
    case 3:
      return { value: [mark, { a: mark }, [number]], marks: [mark, String(number)] };
    default:
      return { value: `Bearer ${mark}`, marks: [mark] };
  }
}

/**
 * `{ key: value }` placed `depth` levels down (pino's wildcards match one level each, an object's key or a list's
 * index): under objects only, or (`lists`) with every other level a list of one item; the top is an object.
 */
function nest(key: string, value: unknown, depth: number, lists: boolean): Record<string, unknown> {
  let inner: unknown = {};
  Object.defineProperty(inner, key, { value, enumerable: true });
  for (let level = 0; level < depth; level += 1) {
    const outermost = level === depth - 1;
    inner = lists && !outermost && level % 2 === 0 ? [inner] : { [`level${level}`]: inner };
  }
  return inner as Record<string, unknown>;
}

const everyKey = [...personalDataKeys, ...secretKeys];

it('lists every key once, in one place, and gives pino each as a path at the top of a line', () => {
  expect(new Set(everyKey).size).toBe(everyKey.length);
  expect(redactPaths).toHaveLength(everyKey.length);
  expect(redactPaths).toContain('ChuHoSo');
  expect(redactPaths).toContain('["x-api-key"]');
  // The vendor payloads' personal fields of shared/domain.md, and the connections' secrets, are listed.
  for (const key of ['ChuHoSo', 'SoGiayToChuHoSo', 'DinhDanhCHS', 'SoDienThoai', 'DiaChi', 'Email'])
    expect(personalDataKeys).toContain(key);
  for (const key of ['apiKey', 'password', 'authorization', 'webhookSecret', 'DATABASE_URL', 'REDIS_URL'])
    expect(secretKeys).toContain(key);
  // Every personal key but the containers of a whole record is one the connectors' own list calls personal.
  const containers = ['record', 'rawRecord', 'payload', 'rawPayload', 'raw_payload', 'body', 'rawBody', 'passport'];
  for (const key of personalDataKeys.filter((name) => !containers.includes(name)))
    expect(isPersonalKey(key), key).toBe(true);
});

it('redacts every listed key at every depth a line shows, under objects and lists, whatever the value and case', () => {
  const { logger, text, lines } = capture();
  const marks: string[] = [];
  let shape = 0;
  for (const key of everyKey) {
    for (let depth = 0; depth < maxLoggedDepth; depth += 1) {
      for (const lists of [false, true]) {
        if (lists && depth < 2) continue;
        const { value, marks: these } = planted((shape += 1));
        marks.push(...these);
        // Below the top, in another case too (pino's paths at the top are as listed).
        const written = depth > 0 && shape % 3 === 0 ? key.toUpperCase() : key;
        logger.info(nest(written, value, depth, lists), 'a line of fields');
      }
    }
  }
  const output = text();
  expect(marks.filter((mark) => output.includes(mark))).toEqual([]);
  expect(lines().every((line) => line.msg === 'a line of fields' && line.name === 'fleet')).toBe(true);
  expect(output.split(`"${redactionCensor}"`).length - 1).toBe(lines().length);
});

it('redacts whole a container deeper than a line shows, whatever it holds', () => {
  const { logger, text } = capture();
  logger.info(nest('innocent', 'SentinelTooDeep', maxLoggedDepth + 2, true), 'deep');
  expect(text()).not.toContain('SentinelTooDeep');
  expect(text()).toContain(redactionCensor);
});

it("redacts a child logger's bindings and a job logger's lines, and keeps the ids", () => {
  const { logger, text, lines } = capture();
  const { value, marks } = planted(2);
  const job = jobLogger(logger, 'webhook', { province: '79', connector: 'hcm-egov', job: 'd-1' });
  job
    .child({ headers: { authorization: 'Bearer SentinelChildAuth', 'x-api-key': 'SentinelChildKey' } })
    .warn({ applicant: value, payload: 'SentinelPayloadText', secret: { whsec: 'SentinelWhsec' } }, 'delivery refused');
  const output = text();
  for (const mark of [...marks, 'SentinelChildAuth', 'SentinelChildKey', 'SentinelPayloadText', 'SentinelWhsec'])
    expect(output).not.toContain(mark);
  expect(lines()[0]).toMatchObject({
    stage: 'webhook',
    province: '79',
    connector: 'hcm-egov',
    job: 'd-1',
    headers: { authorization: redactionCensor, 'x-api-key': redactionCensor },
    applicant: redactionCensor,
    payload: redactionCensor,
    secret: redactionCensor,
    msg: 'delivery refused',
  });
  expect(jobLogger(logger, 'write', {}).bindings()).toMatchObject({
    province: '(unknown)',
    connector: '(unknown)',
    job: '(unknown)',
  });
});

it('cuts the credentials of a URL out of any text: a field, a nested one, a key, the message, an error', () => {
  const { logger, text, lines } = capture();
  logger.error(
    {
      err: 'connect failed: postgres://dossier:SentinelPgPass@db:5432/dossier_sync',
      causes: [{ url: 'redis://default:SentinelRedisPass@cache:6379' }, 'https://user:SentinelHttpPass@vendor/api'],
      ['rediss://u:SentinelKeyPass@h']: 1,
    },
    'cannot reach redis://default:SentinelMsgPass@cache:6379 (%s)',
    'postgres://a:SentinelArgPass@b/c',
  );
  logger.fatal(
    {
      err: new Error('boom at postgres://x:SentinelErrPass@h/db', {
        cause: new Error('inner redis://d:SentinelCausePass@h'),
      }),
    },
    'uncaught',
  );
  logger.warn('plain postgres://p:SentinelPlainPass@h/db');
  const output = text();
  expect(output).toContain('inner redis://[redacted]@h');
  for (const mark of ['Pg', 'Redis', 'Http', 'Key', 'Msg', 'Arg', 'Err', 'Cause', 'Plain'])
    expect(output).not.toContain(`Sentinel${mark}Pass`);
  expect(lines()[0]!.msg).toBe('cannot reach redis://[redacted]@cache:6379 (postgres://[redacted]@b/c)');
  expect(lines()[1]!.err).toMatchObject({
    type: 'Error',
    message: 'boom at postgres://[redacted]@h/db: inner redis://[redacted]@h',
  });
  expect(lines()[0]!.causes).toEqual([{ url: 'redis://[redacted]@cache:6379' }, 'https://[redacted]@vendor/api']);
});

it('keeps what is not listed: ids, counts, reasons', () => {
  const { logger, lines } = capture();
  logger.info({ province: '01', connector: 'hn', records: 3, code: 'signature_invalid', err: 'timeout' }, 'kept');
  expect(lines()[0]).toMatchObject({ province: '01', connector: 'hn', records: 3, code: 'signature_invalid' });
});
