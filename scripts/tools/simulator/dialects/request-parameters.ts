import { parseSourceDate, type DateFormat } from '../../../../connectors/sdk/dates.js';
import { MappingError } from '../../../../connectors/sdk/mapping-error.js';
import { BadRequestError } from '../dossier-query.js';

/**
 * Reading request parameters the same way in every dialect: a query string (igate, dvc) or the child
 * elements of a SOAP operation (lgsp-soap) both arrive as a record of strings, or arrays when repeated.
 * Every helper throws BadRequestError, which each dialect renders in its own error shape.
 */
export type RequestParameters = Readonly<Record<string, unknown>>;

/** The parameter's text, or null when absent; a repeated parameter is refused rather than guessed at. */
export function optionalText(parameters: RequestParameters, name: string): string | null {
  const value = parameters[name];
  if (value === undefined) return null;
  if (typeof value !== 'string') throw new BadRequestError(`${name} must be given once`);
  return value;
}

/** A whole number from `min` to `max`, or `fallback` when absent. */
export function integerInRange(
  parameters: RequestParameters,
  name: string,
  range: { min: number; max: number; fallback: number },
): number {
  const text = optionalText(parameters, name);
  if (text === null) return range.fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < range.min || value > range.max) {
    throw new BadRequestError(`${name} must be a whole number from ${range.min} to ${range.max}`);
  }
  return value;
}

/** A time in the dialect's format, as epoch milliseconds (no offset means Vietnam time); null when absent. */
export function timeInFormat(parameters: RequestParameters, name: string, format: DateFormat): number | null {
  const text = optionalText(parameters, name);
  if (text === null) return null;
  if (text.trim() === '') throw new BadRequestError(`${name} is empty; expected ${format}, Vietnam time`);
  try {
    return (parseSourceDate(text, name, format) as Date).getTime();
  } catch (error) {
    if (error instanceof MappingError) throw new BadRequestError(error.message);
    throw error;
  }
}
