// Kind names and a readable rendering of values, the same as the Go SDK's
// Value.String (used in error messages, which the conformance suite compares).

import { Float64 } from "./value.js";
import { compareEncoded, encodePure } from "./msgpack.js";

/** Sorts map entries (or set elements) in canonical order: by the encoding of the key. */
export function canonicalEntries(es: [unknown, unknown][]): [unknown, unknown][] {
  try {
    const enc = es.map((e) => ({ e, k: encodePure(e[0]) }));
    enc.sort((a, b) => compareEncoded(a.k, b.k));
    return enc.map((x) => x.e);
  } catch {
    return es;
  }
}

/** The Squall kind of a JS value: nil, bool, int, float, string, bytes, list, map or set. */
export function kindOf(v: unknown): string {
  switch (typeof v) {
    case "undefined":
      return "nil";
    case "boolean":
      return "bool";
    case "number":
      return Number.isSafeInteger(v) && !Object.is(v, -0) ? "int" : "float";
    case "bigint":
      return "int";
    case "string":
      return "string";
  }
  if (v === null) return "nil";
  if (v instanceof Float64) return "float";
  if (v instanceof Uint8Array) return "bytes";
  if (Array.isArray(v)) return "list";
  if (v instanceof Set) return "set";
  return "map";
}

/** Go's strconv.Quote, closely enough for messages. */
export function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case "\\":
        out += "\\\\";
        continue;
      case "\n":
        out += "\\n";
        continue;
      case "\t":
        out += "\\t";
        continue;
      case "\r":
        out += "\\r";
        continue;
    }
    if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else if (c >= 0xd800 && c <= 0xdfff) out += "\\ufffd";
    else out += ch;
  }
  return out + '"';
}

export function formatFloat(f: number): string {
  if (f !== f) return "NaN";
  if (f === Infinity) return "+Inf";
  if (f === -Infinity) return "-Inf";
  if (Object.is(f, -0)) return "-0.0";
  let s = String(f);
  if (!/[.eIN]/.test(s)) s += ".0";
  return s.replace(/e([+-])(\d)$/, "e$10$2");
}

/** Renders v like the Go SDK: nil true 42 1.5 1.0 "s" 0x"00ff" [1, 2] {"a": 1} #{1, 2}. */
export function formatValue(
  v: unknown,
  sortEntries: ((es: [unknown, unknown][]) => [unknown, unknown][]) | undefined = canonicalEntries,
): string {
  const k = kindOf(v);
  switch (k) {
    case "nil":
      return "nil";
    case "bool":
      return String(v);
    case "int":
      return String(v);
    case "float":
      return formatFloat(v instanceof Float64 ? v.value : (v as number));
    case "string":
      return quote(v as string);
    case "bytes": {
      let s = '0x"';
      for (const b of v as Uint8Array) s += b.toString(16).padStart(2, "0");
      return s + '"';
    }
    case "list":
      return "[" + (v as unknown[]).map((x) => formatValue(x, sortEntries)).join(", ") + "]";
    case "set": {
      let es: [unknown, unknown][] = [...(v as Set<unknown>)].map((x) => [x, x]);
      if (sortEntries) es = sortEntries(es);
      return "#{" + es.map(([x]) => formatValue(x, sortEntries)).join(", ") + "}";
    }
  }
  let es: [unknown, unknown][] =
    v instanceof Map ? [...v.entries()] : Object.keys(v as object).map((n) => [n, (v as Record<string, unknown>)[n]]);
  if (sortEntries) es = sortEntries(es);
  return "{" + es.map(([a, b]) => formatValue(a, sortEntries) + ": " + formatValue(b, sortEntries)).join(", ") + "}";
}
