// PState schemas (ABI.md §5.3): leaf types, maps, sets, lists and records,
// any collection optionally subindexed (stored one entry per storage key).

/** A PState schema; build with the `schema` helpers. */
export class Schema {
  readonly type: string;
  readonly key?: Schema;
  readonly val?: Schema;
  readonly elem?: Schema;
  readonly fields?: readonly (readonly [string, Schema])[];
  readonly isSubindexed: boolean;
  constructor(
    type: string,
    parts: { key?: Schema; val?: Schema; elem?: Schema; fields?: readonly (readonly [string, Schema])[] } = {},
    subindexed = false,
  ) {
    this.type = type;
    if (parts.key) this.key = parts.key;
    if (parts.val) this.val = parts.val;
    if (parts.elem) this.elem = parts.elem;
    if (parts.fields) this.fields = parts.fields;
    this.isSubindexed = subindexed;
  }
  /** The same collection stored one entry per storage key: large collections, read in pages. */
  subindexed(): Schema {
    return new Schema(this.type, this, true);
  }
  /** The ABI form: a bare leaf name, or a map with "type". */
  toValue(): unknown {
    if (isLeaf(this.type) && !this.isSubindexed) return this.type;
    const o: Record<string, unknown> = { type: this.type };
    if (this.key) o.key = this.key.toValue();
    if (this.val) o.val = this.val.toValue();
    if (this.elem) o.elem = this.elem.toValue();
    if (this.fields) o.fields = this.fields.map(([n, s]) => [n, s.toValue()]);
    if (this.isSubindexed) o.subindexed = true;
    return o;
  }
}

export function isLeaf(t: string): boolean {
  return t === "any" || t === "bool" || t === "int" || t === "float" || t === "string" || t === "bytes";
}

/** Schema builders: `schema.mapOf(schema.string, schema.setOf(schema.string).subindexed())`. */
export const schema = {
  any: new Schema("any"),
  bool: new Schema("bool"),
  int: new Schema("int"),
  float: new Schema("float"),
  string: new Schema("string"),
  bytes: new Schema("bytes"),
  mapOf(key: Schema, val: Schema): Schema {
    return new Schema("map", { key, val });
  },
  setOf(elem: Schema): Schema {
    return new Schema("set", { elem });
  },
  listOf(elem: Schema): Schema {
    return new Schema("list", { elem });
  },
  /**
   * A record: a map with these string keys, each optional. Give the fields as
   * an object (in declaration order; names that look like array indexes would
   * be reordered by JavaScript) or as [name, schema] pairs.
   */
  record(fields: Record<string, Schema> | readonly (readonly [string, Schema])[]): Schema {
    const fs = Array.isArray(fields) ? fields : Object.entries(fields);
    return new Schema("record", { fields: fs as readonly (readonly [string, Schema])[] });
  },
};
