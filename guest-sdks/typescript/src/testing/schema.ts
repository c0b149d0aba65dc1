// Schemas as the in-memory host checks values against them (the storage
// layer's rules and messages).

import { entries, isNil, items, kind, shortValue, locString } from "./values.js";
import { formatValue, quote } from "../text.js";

export interface HSchema {
  typ: string;
  key?: HSchema | undefined;
  val?: HSchema | undefined;
  elem?: HSchema | undefined;
  fields?: { name: string; s: HSchema }[];
  subindexed: boolean;
  /** Stored as several storage keys: a subindexed collection, or a record holding one. */
  exploded: boolean;
}

export function parseSchema(v: unknown): HSchema {
  if (typeof v === "string") return { typ: v, subindexed: false, exploded: false };
  const o = new Map(entries(v) as [string, unknown][]);
  const s: HSchema = { typ: String(o.get("type") ?? ""), subindexed: o.get("subindexed") === true, exploded: false };
  switch (s.typ) {
    case "map":
      s.key = parseSchema(o.get("key"));
      s.val = parseSchema(o.get("val"));
      break;
    case "set":
    case "list":
      s.elem = parseSchema(o.get("elem"));
      break;
    case "record":
      s.fields = items(o.get("fields")).map((f) => {
        const [name, fs] = f as [string, unknown];
        const hs = parseSchema(fs);
        s.exploded = s.exploded || hs.exploded;
        return { name, s: hs };
      });
  }
  if (s.subindexed && (s.typ === "map" || s.typ === "set" || s.typ === "list")) s.exploded = true;
  return s;
}

export const t = (s: HSchema | undefined): string => s?.typ ?? "";
export const isExploded = (s: HSchema | undefined): boolean => !!s && s.exploded;
export const elemS = (s: HSchema | undefined): HSchema | undefined => s?.elem;

function fieldLabel(name: string): string {
  if (name === "") return '""';
  return /^[_a-zA-Z][_a-zA-Z0-9]*$/.test(name) ? name : quote(name);
}

export function schemaString(s: HSchema | undefined): string {
  if (!s) return "<missing>";
  let out: string;
  switch (s.typ) {
    case "map":
      out = `map(${schemaString(s.key)}, ${schemaString(s.val)})`;
      break;
    case "set":
    case "list":
      out = `${s.typ}(${schemaString(s.elem)})`;
      break;
    case "record":
      out = "record{" + (s.fields ?? []).map((f) => `${fieldLabel(f.name)}: ${schemaString(f.s)}`).join(", ") + "}";
      break;
    default:
      out = s.typ;
  }
  return s.subindexed ? out + ".subindexed" : out;
}

export interface SchemaError {
  loc: string;
  msg: string;
}

const want: Record<string, string> = {
  bool: "bool",
  int: "int",
  float: "float",
  string: "string",
  bytes: "bytes",
  map: "map",
  set: "set",
  list: "list",
  record: "map",
};

export function checkValue(s: HSchema | undefined, v: unknown, loc: string): SchemaError | undefined {
  if (isNil(v) || !s || s.typ === "any") return undefined;
  const k = want[s.typ];
  if (k !== undefined && kind(v) !== k) return { loc, msg: `the schema says ${schemaString(s)}, got ${kind(v)} ${shortValue(v)}` };
  switch (s.typ) {
    case "map":
      for (const [ek, ev] of entries(v)) {
        const e = checkKey(s.key, ek, loc) ?? checkValue(s.val, ev, `${loc}[${formatValue(ek)}]`);
        if (e) return e;
      }
      break;
    case "set":
      for (const e of items(v)) {
        const err = checkKey(s.elem, e, loc);
        if (err) return err;
      }
      break;
    case "list": {
      const l = items(v);
      for (let i = 0; i < l.length; i++) {
        const e = checkValue(s.elem, l[i], `${loc}[${i}]`);
        if (e) return e;
      }
      break;
    }
    case "record":
      for (const [ek, ev] of entries(v)) {
        const [fs, err] = recordField(s, ek, loc);
        if (err) return err;
        const e = checkValue(fs, ev, `${loc}[${formatValue(ek)}]`);
        if (e) return e;
      }
  }
  return undefined;
}

export function checkKey(s: HSchema | undefined, k: unknown, loc: string): SchemaError | undefined {
  if (kind(k) === "float") return { loc, msg: `float key ${formatValue(k)} is not allowed; use int or string keys` };
  if (isNil(k) && s && s.typ !== "any") return { loc, msg: `nil is not a ${schemaString(s)} key` };
  return checkValue(s, k, `${loc}{${shortValue(k)}}`);
}

export function recordField(s: HSchema, k: unknown, loc: string): [HSchema | undefined, SchemaError | undefined] {
  if (typeof k === "string") {
    const f = (s.fields ?? []).find((x) => x.name === k);
    if (f) return [f.s, undefined];
  }
  const names = (s.fields ?? []).map((f) => quote(f.name)).join(", ");
  return [undefined, { loc, msg: `the record has no field ${shortValue(k)}; its fields are ${names}` }];
}

export function childSchema(s: HSchema | undefined, k: unknown, loc: string): [HSchema | undefined, SchemaError | undefined] {
  switch (t(s)) {
    case "map": {
      const e = checkKey(s!.key, k, loc);
      return e ? [undefined, e] : [s!.val, undefined];
    }
    case "record":
      return recordField(s!, k, loc);
    case "set": {
      const e = checkKey(s!.elem, k, loc);
      return e ? [undefined, e] : [s!.elem, undefined];
    }
    case "list":
      return [s!.elem, undefined];
  }
  return [undefined, undefined];
}

export function valSchema(s: HSchema | undefined, k: unknown): HSchema | undefined {
  switch (t(s)) {
    case "map":
      return s!.val;
    case "record":
      return (s!.fields ?? []).find((f) => f.name === k)?.s;
    case "set":
    case "list":
      return s!.elem;
  }
  return undefined;
}

export function keySchema(s: HSchema | undefined): HSchema | undefined {
  switch (t(s)) {
    case "map":
      return s!.key;
    case "record":
      return { typ: "string", subindexed: false, exploded: false };
    case "set":
      return s!.elem;
  }
  return undefined;
}

export function emptyOf(s: HSchema | undefined): unknown {
  switch (t(s)) {
    case "map":
    case "record":
      return {};
    case "set":
      return new Set();
    case "list":
      return [];
  }
  return null;
}

export { locString };
