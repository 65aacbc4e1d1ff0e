/**
 * Reads a dot-separated path (`data.items`, `timeline.dueAt`, `links.0.href`) from a parsed JSON document.
 * `$` is the document itself. Own properties only: a path can never reach `__proto__` or `constructor`.
 */
export function readPath(document: unknown, path: string): unknown {
  if (path === '$') return document;
  let value: unknown = document;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, key))
      return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}
