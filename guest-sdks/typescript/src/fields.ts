// Typed stage inputs: a parser from a record's field kinds, the TypeScript
// form of the Go SDK's Unpack and the Rust SDK's field_as.
//
//   const parseSentence = recordParser({ user: "string", text: "string" });
//   t.stage("split", parseSentence, (ctx, s) => { s.text.toLowerCase() ... });

import { Float64, type Value } from "./value.js";
import { formatValue, kindOf } from "./text.js";

/** The kind of a record field, and the TypeScript type it reads as. */
export type FieldKind = "string" | "int" | "bigint" | "float" | "bool" | "bytes" | "list" | "map" | "any";

export type FieldType<K extends FieldKind> = K extends "string"
  ? string
  : K extends "int" | "float"
    ? number
    : K extends "bigint"
      ? bigint
      : K extends "bool"
        ? boolean
        : K extends "bytes"
          ? Uint8Array
          : K extends "list"
            ? Value[]
            : K extends "map"
              ? { [key: string]: Value } | Map<Value, Value>
              : Value;

/** The record type a spec describes. */
export type RecordOf<S extends Record<string, FieldKind>> = { [K in keyof S]: FieldType<S[K]> };

/** A record that does not fit its parser: the item is poisoned (kind "input"). */
export class FieldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FieldError";
  }
}

function zero(k: FieldKind): unknown {
  switch (k) {
    case "string":
      return "";
    case "int":
    case "float":
      return 0;
    case "bigint":
      return 0n;
    case "bool":
      return false;
    case "bytes":
      return new Uint8Array(0);
    case "list":
      return [];
    case "map":
      return {};
  }
  return null;
}

function read(name: string, k: FieldKind, v: unknown): unknown {
  if (v === null || v === undefined) return zero(k);
  const got = kindOf(v);
  const bad = (): never => {
    const shown = formatValue(v);
    throw new FieldError(`field ${JSON.stringify(name)}: want ${k === "bigint" ? "int" : k}, got ${got} ${shown.length > 40 ? shown.slice(0, 37) + "..." : shown}`);
  };
  switch (k) {
    case "string":
      return typeof v === "string" ? v : bad();
    case "bool":
      return typeof v === "boolean" ? v : bad();
    case "bytes":
      return v instanceof Uint8Array ? v : bad();
    case "list":
      return Array.isArray(v) ? v : bad();
    case "map":
      return got === "map" ? v : bad();
    case "int":
      if (typeof v === "number" && got === "int") return v;
      if (typeof v === "bigint") throw new FieldError(`field ${JSON.stringify(name)}: the int ${v} is beyond ±2^53; declare the field "bigint"`);
      return bad();
    case "bigint":
      return typeof v === "bigint" ? v : typeof v === "number" && got === "int" ? BigInt(v) : bad();
    case "float":
      if (v instanceof Float64) return v.value;
      if (typeof v === "number") return v;
      return bad();
  }
  return v;
}

/**
 * A parser of records with these fields: absent or nil fields read as zero
 * values ("", 0, false, empty bytes, [], {}, null for "any"), fields of
 * another kind throw a FieldError, other fields are ignored. Ints read as
 * numbers ("bigint": as bigints, for ints beyond ±2^53); floats accept ints.
 */
export function recordParser<S extends Record<string, FieldKind>>(spec: S): (v: unknown) => RecordOf<S> {
  const names = Object.keys(spec);
  return (v: unknown): RecordOf<S> => {
    const k = kindOf(v);
    if (k !== "map" || v instanceof Set) throw new FieldError(`want a map with fields ${names.map((n) => JSON.stringify(n)).join(", ")}, got ${k}`);
    const out: Record<string, unknown> = {};
    const get = v instanceof Map ? (n: string) => v.get(n) : (n: string) => (Object.prototype.hasOwnProperty.call(v, n) ? (v as Record<string, unknown>)[n] : undefined);
    for (const n of names) out[n] = read(n, spec[n]!, get(n));
    return out as RecordOf<S>;
  };
}
