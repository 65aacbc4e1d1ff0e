/**
 * Keys no dossier field is named so, and that JavaScript gives a meaning to: assigned to an object
 * (`copy[key] = value`, `Object.assign`), `__proto__` replaces its prototype, and `constructor.prototype` reaches
 * every object's. JSON.parse makes them plain own properties; an update holding one is kept as a dead letter
 * and never handed to a connector's `map`.
 */
const prototypeKeys = new Set(['__proto__', 'constructor', 'prototype']);

/** True for `__proto__`, `constructor` and `prototype`. */
export function isPrototypeKey(key: string): boolean {
  return prototypeKeys.has(key);
}

/**
 * Where a prototype key is: the key, and its path from the value searched (`meta.__proto__`, `list[2].constructor`).
 */
export interface PrototypeKeyPlace {
  key: string;
  path: string;
}

function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (/^[A-Za-z_$][\w$]{0,63}$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key.slice(0, 64))}]`;
}

/**
 * A prototype key in a parsed JSON value (the first met, walking depth-first), or null; the objects in `skip`
 * and what they hold are not searched. Reads own properties only and walks with its own stack, so a deep value
 * costs a loop, never the call stack.
 */
export function findPrototypeKey(value: unknown, skip: ReadonlySet<unknown> = new Set()): PrototypeKeyPlace | null {
  const stack: { value: unknown; path: string }[] = [{ value, path: '' }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (current === null || typeof current !== 'object' || skip.has(current)) continue;
    const children: { value: unknown; path: string }[] = [];
    if (Array.isArray(current)) {
      current.forEach((item, index) => children.push({ value: item, path: childPath(path, index) }));
    } else {
      for (const key of Object.keys(current)) {
        if (isPrototypeKey(key)) return { key, path: childPath(path, key) };
        children.push({ value: (current as Record<string, unknown>)[key], path: childPath(path, key) });
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return null;
}
