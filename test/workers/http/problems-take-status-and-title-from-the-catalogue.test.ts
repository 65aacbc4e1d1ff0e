import { STATUS_CODES } from 'node:http';
import { expect, it } from 'vitest';
import { requestErrors, type RequestErrorCode } from '../../../config/error-catalogue.js';
import { problem } from '../../../workers/http/problem.js';

// A caller names a code and says what is wrong; the status and title are the catalogue's, so a code means one
// answer wherever it is sent from.

it('answers every request error code with the status and title the catalogue declares', () => {
  for (const [code, entry] of Object.entries(requestErrors) as [
    RequestErrorCode,
    { status: number; title: string },
  ][]) {
    expect(problem(code, 'what is wrong', { errors: ['a: b'] })).toEqual({
      type: `urn:dossier-sync:problem:${code}`,
      title: entry.title,
      status: entry.status,
      detail: 'what is wrong',
      code,
      errors: ['a: b'],
    });
  }
  expect(problem('signature_invalid', 'no signature matches')).toMatchObject({ status: 401, title: 'Unauthorized' });
});

it('refuses a code the catalogue does not declare, at compile time and at run time', () => {
  // @ts-expect-error: not a code of the catalogue
  expect(() => problem('no_such_code', 'detail')).toThrow(/not a request error code of the error catalogue/);
  // @ts-expect-error: a dead letter's reason is not an answer to a request
  expect(() => problem('unknown_status', 'detail')).toThrow(TypeError);
  // @ts-expect-error: an own key of every object, but no code
  expect(() => problem('constructor', 'detail')).toThrow(TypeError);
});

it('passes on another status of the same class, with that status as title, and no other', () => {
  expect(problem('bad_request', 'the URL is too long', { status: 414 })).toMatchObject({
    code: 'bad_request',
    status: 414,
    title: STATUS_CODES[414],
  });
  expect(() => problem('bad_request', 'detail', { status: 500 })).toThrow(RangeError);
});
