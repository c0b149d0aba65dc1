// Values: how Squall's value model (ABI.md §4.2, abi/doc.go) maps to
// JavaScript. The README's "Value mapping" section is the normative text;
// the native codec of the QuickJS runtime implements the same mapping.

/**
 * A float whose value is a safe integer (2.0, -7.0, 0.0), kept distinct from
 * the int of the same value. Squall distinguishes ints from floats and JS
 * numbers do not: a plain number that is a safe integer encodes as an int, so
 * a decoded float such as 2.0 comes back as a `Float64` and re-encodes as a
 * float. Non-integral floats (1.5, NaN, Infinity, -0) are plain numbers.
 * Map keys and set elements that are floats are always `Float64` (a JS Map
 * would merge -0 with 0).
 *
 * `valueOf` makes it usable in arithmetic: `+f`, `f.value`, `Number(f)`.
 */
export class Float64 {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
  valueOf(): number {
    return this.value;
  }
  toString(): string {
    return String(this.value);
  }
  toJSON(): number {
    return this.value;
  }
}

/** Marks x as a float even when it is a whole number: `float(2)` encodes 2.0. */
export function float(x: number): Float64 {
  return new Float64(x);
}

/** Reads a number (an int, a float, or a Float64) as a JS number; bigints are converted. */
export function toNumber(v: unknown): number {
  if (typeof v === "number") return v;
  if (v instanceof Float64) return v.value;
  if (typeof v === "bigint") return Number(v);
  if (v === null || v === undefined) return 0;
  throw new TypeError(`squall: expected a number, got ${describe(v)}`);
}

/**
 * A Squall value as the SDK hands it to your code (see the README's "Value
 * mapping"): null, boolean, number (ints within ±(2^53-1) and floats),
 * bigint (ints beyond), Float64 (integral floats), string, Uint8Array,
 * arrays, plain objects (maps whose keys are all strings), Map (other maps),
 * Set.
 */
export type Value =
  | null
  | boolean
  | number
  | bigint
  | Float64
  | string
  | Uint8Array
  | Value[]
  | Map<Value, Value>
  | Set<Value>
  | { [key: string]: Value };

/** Anything the encoder accepts: a Value, plus undefined (nil) and class instances (their own enumerable fields). */
export type Encodable = unknown;

/** A short description of a JS value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  switch (typeof v) {
    case "string":
      return v.length > 40 ? `a string ${JSON.stringify(v.slice(0, 40))}...` : `the string ${JSON.stringify(v)}`;
    case "number":
    case "bigint":
    case "boolean":
      return `${typeof v} ${String(v)}`;
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
  }
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (v instanceof Float64) return `float ${v.value}`;
  if (v instanceof Map) return `a Map of ${v.size}`;
  if (v instanceof Set) return `a Set of ${v.size}`;
  const c = (v as { constructor?: { name?: string } }).constructor;
  return c && c.name && c.name !== "Object" ? `a ${c.name}` : "an object";
}
