import { MappingError } from '../../connectors/sdk/mapping-error.js';

/** Runs `fn` and returns the MappingError it throws; fails when it throws nothing or something else. */
export function catchMappingError(fn: () => unknown): MappingError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MappingError) return error;
    throw error;
  }
  throw new Error('expected a MappingError, but nothing was thrown');
}
