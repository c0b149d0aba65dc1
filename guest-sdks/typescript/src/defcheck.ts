// Validation of module definitions, with the host's rules and messages
// (abi.ParseModuleDef; abi/testdata/frames/module_def_invalid.jsonl): every
// problem at once, each with its location, in definition order.

import { formatValue, kindOf, quote } from "./text.js";
import { parsePath, validatePath, type Path } from "./path.js";

const maxDefEntries = 1024;
const maxNameLen = 128;
const maxSchemaDepth = 32;
const maxMaxRecords = 1_000_000;
const maxIntervalMillis = 3_600_000;
const maxTickMillis = 86_400_000;
const maxQueryArgs = 64;

export interface DefProblem {
  where: string;
  msg: string;
}

/** A module definition the host would reject; `problems` lists all of them. */
export class DefinitionError extends Error {
  readonly problems: DefProblem[];
  constructor(problems: DefProblem[]) {
    super(
      problems.length === 1
        ? `squall: module definition: ${problems[0]!.where}: ${problems[0]!.msg}`
        : `squall: module definition has ${problems.length} problems:` + problems.map((p) => `\n\t${p.where}: ${p.msg}`).join(""),
    );
    this.name = "DefinitionError";
    this.problems = problems;
  }
}

function utf8Len(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

class Problems {
  list: DefProblem[] = [];
  add(where: string, msg: string): void {
    for (const q of this.list) {
      const w = q.where;
      if (where === w || where.startsWith(w + ".") || where.startsWith(w + "[")) return;
    }
    this.list.push({ where, msg });
  }
  sorted(): DefProblem[] {
    const l = this.list.map((p, i) => ({ p, i, k: sortKey(p.where) }));
    l.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i));
    return l.map((x) => x.p);
  }
}

function sortKey(where: string): string {
  return where.replace(/\[(\d+)\]/g, (_, d: string) => "[" + "0".repeat(Math.max(0, 10 - d.length)) + d + "]");
}

function join(where: string, field: string): string {
  return where === "definition" ? field : where + "." + field;
}

function at(where: string, i: number): string {
  return `${where}[${i}]`;
}

function quoteList(names: string[]): string {
  const q: string[] = [];
  for (let i = 0; i < names.length; i++) {
    if (names.length > 12 && i === 10) {
      q.push(`... (${names.length - 10} more)`);
      break;
    }
    q.push(quote(names[i]!));
  }
  return q.join(", ");
}

/** What is wrong with a depot, PState, topology, stage or module name, or "". */
export function nameProblem(name: string): string {
  if (name === "") return "a name cannot be empty";
  const n = utf8Len(name);
  if (n > maxNameLen) return `name is ${n} bytes; the limit is ${maxNameLen}`;
  let byte = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok =
      c === 95 || c === 36 || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (i > 0 && ((c >= 48 && c <= 57) || c === 45 || c === 46));
    if (!ok) {
      const ch = String.fromCodePoint(name.codePointAt(i)!);
      return `name ${quote(name)} has '${ch}' at byte ${byte}; use letters, digits, '_', '-', '.' and '$', starting with a letter, '_' or '$'`;
    }
    byte++;
  }
  return "";
}

function entriesOf(v: unknown): [unknown, unknown][] {
  if (v instanceof Map) return [...v.entries()];
  return Object.keys(v as object).map((k) => [k, (v as Record<string, unknown>)[k]]);
}

type Fields = Map<string, unknown> | undefined;

const schemaTypes = ["any", "bool", "int", "float", "string", "bytes", "map", "set", "list", "record"];

interface SchemaNode {
  typ: string;
  subindexed: boolean;
  key?: SchemaNode | undefined;
  val?: SchemaNode | undefined;
  elem?: SchemaNode | undefined;
  fields?: { name: string; schema: SchemaNode | undefined }[];
}

const isLeafT = (t: string | undefined) => t === "any" || t === "bool" || t === "int" || t === "float" || t === "string" || t === "bytes";

class Checker {
  p = new Problems();

  fields(where: string, v: unknown, what: string, known: string[]): Fields {
    if (kindOf(v) !== "map") {
      this.p.add(where, `${what} must be a map, not ${kindOf(v)}`);
      return undefined;
    }
    const out = new Map<string, unknown>();
    for (const [k, val] of entriesOf(v)) {
      if (typeof k !== "string") {
        this.p.add(where, `field names are strings; found the ${kindOf(k)} key ${formatValue(k)}`);
        continue;
      }
      if (!known.includes(k)) {
        this.p.add(join(where, k), `unknown field; ${what} fields are ${quoteList(known)}`);
        continue;
      }
      out.set(k, val);
    }
    return out;
  }

  str(where: string, f: Fields, name: string, required: boolean): string {
    if (!f || !f.has(name)) {
      if (required && f) this.p.add(join(where, name), "required field is missing");
      return "";
    }
    const v = f.get(name);
    if (typeof v !== "string") {
      this.p.add(join(where, name), `must be a string, not ${kindOf(v)}`);
      return "";
    }
    return v;
  }

  bool(where: string, f: Fields, name: string): boolean {
    if (!f || !f.has(name)) return false;
    const v = f.get(name);
    if (typeof v !== "boolean") {
      this.p.add(join(where, name), `must be a bool, not ${kindOf(v)}`);
      return false;
    }
    return v;
  }

  list(where: string, f: Fields, name: string, required: boolean): unknown[] {
    if (!f || !f.has(name)) {
      if (required && f) this.p.add(join(where, name), "required field is missing");
      return [];
    }
    const v = f.get(name);
    if (!Array.isArray(v)) {
      this.p.add(join(where, name), `must be a list, not ${kindOf(v)}`);
      return [];
    }
    if (v.length > maxDefEntries) {
      this.p.add(join(where, name), `has ${v.length} entries; the limit is ${maxDefEntries}`);
      return [];
    }
    return v;
  }

  /** An int field: its value, or undefined when absent or not an int (reported). */
  int(where: string, f: Fields, name: string): number | undefined {
    if (!f || !f.has(name)) return undefined;
    const v = f.get(name);
    if (kindOf(v) !== "int") {
      this.p.add(join(where, name), `must be an int, not ${kindOf(v)}`);
      return undefined;
    }
    return Number(v);
  }

  strings(where: string, f: Fields, name: string, required: boolean): string[] {
    return this.list(where, f, name, required).map((sv, i) => {
      if (typeof sv !== "string") {
        this.p.add(at(join(where, name), i), `must be a string, not ${kindOf(sv)}`);
        return "";
      }
      return sv;
    });
  }

  schema(w: string, v: unknown, depth: number): SchemaNode | undefined {
    if (depth > maxSchemaDepth) {
      this.p.add(w, `schema nests deeper than ${maxSchemaDepth}`);
      return undefined;
    }
    if (typeof v === "string") {
      if (!isLeafT(v)) {
        this.p.add(
          w,
          `unknown leaf type ${quote(v)}; use "any", "bool", "int", "float", "string" or "bytes", or a map {"type": ...} for a collection`,
        );
        return undefined;
      }
      return { typ: v, subindexed: false };
    }
    if (kindOf(v) !== "map") {
      this.p.add(w, `a schema is a leaf type name or a map with a "type", not ${kindOf(v)}`);
      return undefined;
    }
    const es = entriesOf(v);
    const te = es.find(([k]) => k === "type");
    if (!te || typeof te[1] !== "string") {
      if (!te) this.p.add(join(w, "type"), `required field is missing; use one of ${quoteList(schemaTypes)}`);
      else this.p.add(join(w, "type"), `must be a string, not ${kindOf(te[1])}`);
      return undefined;
    }
    const ts = te[1];
    const n: SchemaNode = { typ: ts, subindexed: false };
    let known: string[];
    if (isLeafT(ts)) known = ["subindexed", "type"];
    else if (ts === "map") known = ["key", "subindexed", "type", "val"];
    else if (ts === "set" || ts === "list") known = ["elem", "subindexed", "type"];
    else if (ts === "record") known = ["fields", "subindexed", "type"];
    else {
      this.p.add(join(w, "type"), `unknown schema type ${quote(ts)}; use one of ${quoteList(schemaTypes)}`);
      return n;
    }
    const f = this.fields(w, v, `a ${ts} schema`, known);
    n.subindexed = this.bool(w, f, "subindexed");
    const child = (name: string): SchemaNode | undefined => {
      if (!f || !f.has(name)) {
        this.p.add(join(w, name), "required field is missing");
        return undefined;
      }
      return this.schema(join(w, name), f.get(name), depth + 1);
    };
    switch (ts) {
      case "map":
        n.key = child("key");
        n.val = child("val");
        break;
      case "set":
      case "list":
        n.elem = child("elem");
        break;
      case "record": {
        if (!f || !f.has("fields")) {
          this.p.add(join(w, "fields"), "required field is missing");
          break;
        }
        const fv = f.get("fields");
        if (!Array.isArray(fv)) {
          this.p.add(join(w, "fields"), `must be a list of [name, schema] pairs, not ${kindOf(fv)}`);
          break;
        }
        n.fields = [];
        fv.forEach((e, i) => {
          if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== "string") {
            this.p.add(at(join(w, "fields"), i), `a record field is a [name, schema] pair with a string name, not ${formatValue(e)}`);
            n.fields!.push({ name: "", schema: undefined });
            return;
          }
          const fw = `${join(w, "fields")}[${quote(e[0])}]`;
          n.fields!.push({ name: e[0], schema: this.schema(fw, e[1], depth + 1) });
        });
        break;
      }
    }
    return n;
  }

  checkSchema(s: SchemaNode | undefined, w: string, depth: number, separate: boolean): void {
    const p = this.p;
    if (depth > maxSchemaDepth) {
      p.add(w, `schema nests deeper than ${maxSchemaDepth}`);
      return;
    }
    if (!s) {
      p.add(w, "the schema is missing");
      return;
    }
    const root = depth === 1;
    const coll = s.typ === "map" || s.typ === "set" || s.typ === "list";
    if (root && (s.typ === "set" || s.typ === "list")) {
      p.add(w, `the top level of a PState must be a map, a record or a leaf, not a ${s.typ}; put the ${s.typ} under a map key or a record field`);
    } else if (root && s.typ === "map" && s.subindexed) {
      p.add(w + ".subindexed", 'the top-level map is always stored one key per entry; remove "subindexed"');
    } else if (s.subindexed && !coll) {
      p.add(w + ".subindexed", `only map, set and list schemas can be subindexed, not ${quote(s.typ)}`);
    } else if (s.subindexed && !separate) {
      p.add(
        w + ".subindexed",
        `a subindexed ${s.typ} cannot sit inside a map, set or list that is not subindexed; mark that one subindexed too, or move this ${s.typ} to a record field or directly under the top-level map`,
      );
    }
    const childSeparate = (root && (s.typ === "map" || s.typ === "record")) || (s.typ === "record" && separate) || (coll && s.subindexed);
    const keyLike = (name: string, c: SchemaNode | undefined) => {
      const what = name === "elem" ? "set elements" : "map keys";
      if (c && c.typ === "float") p.add(`${w}.${name}`, `${what} cannot be floats (NaN and -0.0 make them ambiguous); use int or string`);
      else if (c && !isLeafT(c.typ)) p.add(`${w}.${name}`, `${what} must be of a leaf type (any, bool, int, string or bytes), not ${quote(c.typ)}`);
    };
    switch (s.typ) {
      case "any":
      case "bool":
      case "int":
      case "float":
      case "string":
      case "bytes":
        break;
      case "map":
        this.checkSchema(s.key, w + ".key", depth + 1, false);
        keyLike("key", s.key);
        this.checkSchema(s.val, w + ".val", depth + 1, childSeparate);
        break;
      case "set":
        this.checkSchema(s.elem, w + ".elem", depth + 1, false);
        keyLike("elem", s.elem);
        break;
      case "list":
        this.checkSchema(s.elem, w + ".elem", depth + 1, childSeparate);
        break;
      case "record": {
        const fs = s.fields ?? [];
        if (fs.length === 0) p.add(w + ".fields", "a record needs at least one field");
        const seen = new Set<string>();
        fs.forEach((f, i) => {
          const fw = `${w}.fields[${quote(f.name)}]`;
          if (f.name === "") {
            p.add(`${w}.fields[${i}]`, "a record field needs a name");
            return;
          }
          const n = utf8Len(f.name);
          if (n > maxNameLen) p.add(fw, `field name is ${n} bytes; the limit is ${maxNameLen}`);
          else if (seen.has(f.name)) {
            p.add(`${w}.fields[${i}]`, `field ${quote(f.name)} is declared twice`);
            return;
          }
          seen.add(f.name);
          this.checkSchema(f.schema, fw, depth + 1, childSeparate);
        });
        break;
      }
      default:
        p.add(w + ".type", `unknown schema type ${quote(s.typ)}; use one of ${quoteList(schemaTypes)}`);
    }
  }

  names(section: string, what: string, names: string[], field: string): void {
    const seen = new Map<string, number>();
    names.forEach((n, i) => {
      let w = at(section, i);
      if (field) w = join(w, field);
      const msg = nameProblem(n);
      if (msg) {
        this.p.add(w, msg);
        return;
      }
      const j = seen.get(n);
      if (j !== undefined) {
        this.p.add(w, `duplicate ${what} name ${quote(n)} (also ${at(section, j)})`);
        return;
      }
      seen.set(n, i);
    });
  }

  check(v: unknown): void {
    const w = "definition";
    const f = this.fields(w, v, "a module definition", ["depots", "name", "pstates", "queries", "topologies"]);
    const name = this.str(w, f, "name", false);
    const depots = this.list(w, f, "depots", true).map((dv, i) => {
      const dw = at("depots", i);
      const df = this.fields(dw, dv, "a depot", ["name", "partitioner"]);
      const d = { name: this.str(dw, df, "name", true), kind: "", key: undefined as Path | undefined, hasKey: false, millis: 0 };
      if (!df || !df.has("partitioner")) {
        if (df) this.p.add(join(dw, "partitioner"), 'required field is missing; use {"kind": "hash"}, {"kind": "random"} or {"kind": "disallow"}');
        return d;
      }
      const pw = join(dw, "partitioner");
      const pf = this.fields(pw, df.get("partitioner"), "a partitioner", ["key", "kind", "millis"]);
      d.kind = this.str(pw, pf, "kind", true);
      const millis = this.int(pw, pf, "millis");
      if (millis !== undefined) {
        d.millis = millis;
        if (d.kind !== "tick") this.p.add(join(pw, "millis"), "only a tick partitioner takes millis");
      } else if (pf && !pf.has("millis") && d.kind === "tick") {
        this.p.add(join(pw, "millis"), "required field is missing: the tick period in milliseconds");
      }
      if (pf && pf.has("key")) {
        d.hasKey = true;
        try {
          d.key = parsePath(pf.get("key"));
        } catch (e) {
          this.p.add(join(pw, "key"), "not a path: " + (e as Error).message.replace(/^squall: /, ""));
        }
      }
      return d;
    });
    const pstates = this.list(w, f, "pstates", true).map((pv, i) => {
      const pw = at("pstates", i);
      const pf = this.fields(pw, pv, "a PState", ["global", "name", "owner", "schema"]);
      const ps = {
        name: this.str(pw, pf, "name", true),
        global: this.bool(pw, pf, "global"),
        owner: this.str(pw, pf, "owner", false),
        schema: undefined as SchemaNode | undefined,
      };
      if (pf && pf.has("schema")) ps.schema = this.schema(join(pw, "schema"), pf.get("schema"), 1);
      else if (pf) this.p.add(join(pw, "schema"), "required field is missing");
      return ps;
    });
    const topologies = this.list(w, f, "topologies", true).map((tv, i) => {
      const tw = at("topologies", i);
      const tf = this.fields(tw, tv, "a topology", ["interval_ms", "kind", "max_records", "name", "sources", "stages"]);
      const t = {
        name: this.str(tw, tf, "name", true),
        kind: this.str(tw, tf, "kind", true),
        maxRecords: 0,
        intervalMs: 0,
        sources: [] as [string, string][],
        stages: [] as string[],
      };
      const mr = this.int(tw, tf, "max_records");
      if (mr !== undefined) {
        if (mr < 1 || mr > maxMaxRecords) this.p.add(join(tw, "max_records"), `is ${mr}; it must be from 1 to ${maxMaxRecords}`);
        t.maxRecords = mr;
      }
      const iv = this.int(tw, tf, "interval_ms");
      if (iv !== undefined) {
        if (iv < 0 || iv > maxIntervalMillis) this.p.add(join(tw, "interval_ms"), `is ${iv}; it must be from 0 to ${maxIntervalMillis}`);
        t.intervalMs = iv;
      }
      this.list(tw, tf, "sources", true).forEach((sv, j) => {
        const sw = at(join(tw, "sources"), j);
        const sf = this.fields(sw, sv, "a source", ["depot", "stage", "start_from"]);
        t.sources.push([this.str(sw, sf, "depot", true), this.str(sw, sf, "stage", true)]);
        if (sf && sf.has("start_from")) {
          const fv = sf.get("start_from");
          const ok = fv === "beginning" || fv === "end" || (kindOf(fv) === "int" && Number(fv) >= 0);
          if (!ok) this.p.add(join(sw, "start_from"), `must be "beginning", "end" or an offset (an int >= 0), not ${formatValue(fv)}`);
        }
      });
      this.list(tw, tf, "stages", true).forEach((sv, j) => {
        if (typeof sv !== "string") {
          this.p.add(at(join(tw, "stages"), j), `a stage is named by a string, not ${kindOf(sv)}`);
          t.stages.push("");
        } else t.stages.push(sv);
      });
      return t;
    });
    const queries = this.list(w, f, "queries", false).map((qv, i) => {
      const qw = at("queries", i);
      const qf = this.fields(qw, qv, "a query", ["args", "name", "stages"]);
      const name = this.str(qw, qf, "name", true);
      const args = this.strings(qw, qf, "args", false);
      return { name, args, stages: this.strings(qw, qf, "stages", true) };
    });

    // Semantics.
    if (name !== "") {
      const msg = nameProblem(name);
      if (msg) this.p.add("name", msg);
    }
    const depotNames = depots.map((d) => d.name);
    this.names("depots", "depot", depotNames, "name");
    depots.forEach((d, i) => {
      const pw = join(at("depots", i), "partitioner");
      switch (d.kind) {
        case "hash":
          if (d.key) {
            const e = validatePath(d.key, "select");
            if (e) this.p.add(join(pw, "key"), e.message.replace(/^squall: /, ""));
          }
          break;
        case "random":
        case "disallow":
        case "tick":
          if (d.key && d.key.length > 0) this.p.add(join(pw, "key"), "only a hash partitioner takes a key path");
          if (d.kind === "tick" && (d.millis < 1 || d.millis > maxTickMillis)) {
            this.p.add(join(pw, "millis"), `is ${d.millis}; the tick period must be from 1 to ${maxTickMillis} milliseconds`);
          }
          break;
        default:
          this.p.add(join(pw, "kind"), `unknown depot partitioner ${quote(d.kind)}; use "hash", "random", "disallow" or "tick"`);
      }
    });
    this.names(
      "pstates",
      "PState",
      pstates.map((p) => p.name),
      "name",
    );
    pstates.forEach((ps, i) => {
      if (ps.schema) this.checkSchema(ps.schema, join(at("pstates", i), "schema"), 1, true);
    });
    this.names(
      "topologies",
      "topology",
      topologies.map((t) => t.name),
      "name",
    );
    topologies.forEach((t, i) => {
      const tw = at("topologies", i);
      if (t.kind === "stream") {
        if (t.maxRecords !== 0) this.p.add(join(tw, "max_records"), "only microbatch topologies take max_records");
        if (t.intervalMs !== 0) this.p.add(join(tw, "interval_ms"), "only microbatch topologies take interval_ms");
      } else if (t.kind !== "microbatch") this.p.add(join(tw, "kind"), `unknown topology kind ${quote(t.kind)}; use "stream" or "microbatch"`);
      if (t.stages.length === 0) this.p.add(join(tw, "stages"), "a topology needs at least one stage");
      this.names(join(tw, "stages"), "stage", t.stages, "");
      if (t.sources.length === 0) this.p.add(join(tw, "sources"), 'a topology needs at least one source {"depot": ..., "stage": ...}');
      const seen = new Map<string, number>();
      t.sources.forEach(([depot, stage], j) => {
        const sw = at(join(tw, "sources"), j);
        if (!depotNames.includes(depot)) {
          this.p.add(
            join(sw, "depot"),
            `unknown depot ${quote(depot)}; ` + (depots.length === 0 ? "the module declares no depots" : `declared depots: ${quoteList(depotNames)}`),
          );
        }
        if (!t.stages.includes(stage)) {
          this.p.add(
            join(sw, "stage"),
            `unknown stage ${quote(stage)}; ` +
              (t.stages.length === 0 ? "the topology declares no stages" : `stages of topology ${quote(t.name)}: ${quoteList(t.stages)}`),
          );
        }
        const id = JSON.stringify([depot, stage]);
        const k = seen.get(id);
        if (k !== undefined) this.p.add(sw, `duplicate source (also ${at(join(tw, "sources"), k)})`);
        else seen.set(id, j);
      });
    });
    const topoNames = topologies.map((t) => t.name);
    pstates.forEach((ps, i) => {
      if (ps.owner === "" || topoNames.includes(ps.owner)) return;
      this.p.add(
        join(at("pstates", i), "owner"),
        `unknown topology ${quote(ps.owner)}; ` + (topologies.length === 0 ? "the module declares no topologies" : `declared topologies: ${quoteList(topoNames)}`),
      );
    });
    this.names(
      "queries",
      "query",
      queries.map((q) => q.name),
      "name",
    );
    queries.forEach((q, i) => {
      const qw = at("queries", i);
      if (topoNames.includes(q.name)) {
        this.p.add(join(qw, "name"), `query name ${quote(q.name)} is also a topology name; queries and topologies need distinct names`);
      }
      if (q.args.length > maxQueryArgs) this.p.add(join(qw, "args"), `has ${q.args.length} arguments; the limit is ${maxQueryArgs}`);
      this.names(join(qw, "args"), "argument", q.args, "");
      if (q.stages.length === 0) this.p.add(join(qw, "stages"), "a query needs at least one stage (the first is its entry)");
      this.names(join(qw, "stages"), "stage", q.stages, "");
    });
  }
}

/** Checks a module definition (its ABI value) as the host's deploy does; throws DefinitionError with every problem. */
export function checkDefinition(v: unknown): void {
  const c = new Checker();
  c.check(v);
  if (c.p.list.length > 0) throw new DefinitionError(c.p.sorted());
}
