import type { Connector, FieldSource } from './connector.js';
import { isPersonalPath } from './personal-data.js';

/** One key of the mapped source paths, as a tree: what a dead letter keeps at it and under it. */
export interface PathNode {
  /** A mapped path ends here, and its own key does not look personal: a scalar value here is kept. */
  readonly kept: boolean;
  readonly children: ReadonlyMap<string, PathNode>;
  /** The highest list index among the children (-1: none), so a long list is cut only after it. */
  readonly lastIndex: number;
}

interface MutableNode {
  kept: boolean;
  children: Map<string, MutableNode>;
  lastIndex: number;
}

const built = new WeakMap<object, MappedPaths>();

/**
 * The source paths a connector maps (`Connector.mappedFields()`), by canonical field and as a tree: the allow-list
 * of what a dead letter's raw payload keeps and what a message may quote.
 */
export class MappedPaths {
  /** A connector that names no mapped path: nothing is kept, nothing quoted. */
  static readonly none = new MappedPaths([]);

  /** The mapped paths of a connector, built once per connector instance. */
  static of(connector: Partial<Pick<Connector, 'mappedFields'>>): MappedPaths {
    if (!connector.mappedFields) return MappedPaths.none;
    let paths = built.get(connector);
    if (!paths) built.set(connector, (paths = new MappedPaths(connector.mappedFields())));
    return paths;
  }

  /** The root of the tree of mapped paths. */
  readonly root: PathNode;
  private readonly byField = new Map<string, string[]>();

  constructor(fields: readonly FieldSource[]) {
    const root: MutableNode = { kept: false, children: new Map(), lastIndex: -1 };
    for (const { field, path } of fields) {
      this.byField.set(field, [...(this.byField.get(field) ?? []), path]);
      let node = root;
      for (const key of path.split('.')) {
        let child = node.children.get(key);
        if (!child) node.children.set(key, (child = { kept: false, children: new Map(), lastIndex: -1 }));
        if (/^\d+$/.test(key)) node.lastIndex = Math.max(node.lastIndex, Number(key));
        node = child;
      }
      if (!isPersonalPath(path)) node.kept = true;
    }
    this.root = root;
  }

  /** The source paths a canonical field is read from (none: not read from the record). */
  pathsOf(field: string): readonly string[] {
    return this.byField.get(field) ?? [];
  }

  /** True when a field is read from a path whose own key looks personal (a definition that maps one by mistake). */
  readsPersonalData(field: string): boolean {
    return this.pathsOf(field).some(isPersonalPath);
  }
}
