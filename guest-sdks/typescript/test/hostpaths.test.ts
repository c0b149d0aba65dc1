// Replays the host's datadriven PState tests (storage/testdata/pstate)
// through the in-memory host's PState engine: every select, select-one and
// transform must give the host's result or error message, as the Go SDK's
// squalltest checks. Change lists and storage dumps are the host's business.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Path, path as emptyPath, schema as S, Schema, checkDefinition, formatValue, float, type RangeOpts } from "../src/index.js";
import { PStore } from "../src/testing/harness.js";
import { parseSchema } from "../src/testing/schema.js";
import { pathSteps } from "../src/testing/engine.js";
import { mkMap, mkSet, mkInt } from "../src/testing/values.js";

const dir = fileURLToPath(new URL("../../../storage/testdata/pstate/", import.meta.url));

class TextParser {
  pos = 0;
  constructor(readonly s: string) {}
  err(msg: string): Error {
    return new Error(`at byte ${this.pos} of ${JSON.stringify(this.s)}: ${msg}`);
  }
  peek(): string {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos]!)) this.pos++;
    return this.pos < this.s.length ? this.s[this.pos]! : "";
  }
  eat(c: string): boolean {
    if (this.peek() === c) {
      this.pos++;
      return true;
    }
    return false;
  }
  expect(c: string): void {
    if (!this.eat(c)) throw this.err(`want ${JSON.stringify(c)}`);
  }
  ident(): string {
    this.peek();
    const start = this.pos;
    while (this.pos < this.s.length) {
      const c = this.s[this.pos]!;
      if (c === "_" || (c === "+" && this.pos === start) || /[a-zA-Z]/.test(c) || (this.pos > start && /[0-9]/.test(c))) {
        this.pos++;
        continue;
      }
      break;
    }
    return this.s.slice(start, this.pos);
  }
  quoted(): string {
    this.peek();
    const start = this.pos++;
    while (this.pos < this.s.length) {
      const c = this.s[this.pos]!;
      if (c === "\\") {
        this.pos += 2;
        continue;
      }
      if (c === '"') {
        this.pos++;
        return goUnquote(this.s.slice(start + 1, this.pos - 1));
      }
      this.pos++;
    }
    throw this.err("unterminated string");
  }
  seq(end: string): unknown[] {
    const out: unknown[] = [];
    while (!this.eat(end)) {
      if (out.length > 0) this.expect(",");
      out.push(this.value());
    }
    return out;
  }
  value(): unknown {
    const c = this.peek();
    if (c === '"') return this.quoted();
    if (c === "[") {
      this.pos++;
      return this.seq("]");
    }
    if (c === "#") {
      this.pos++;
      this.expect("{");
      return mkSet(this.seq("}"));
    }
    if (c === "{") {
      this.pos++;
      const es: [unknown, unknown][] = [];
      while (!this.eat("}")) {
        if (es.length > 0) this.expect(",");
        const k = this.value();
        this.expect(":");
        es.push([k, this.value()]);
      }
      return mkMap(es);
    }
    if (this.s.startsWith('0x"', this.pos)) {
      this.pos += 2;
      const h = this.quoted();
      return Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
    }
    if (c === "-" || c === "+" || /[0-9]/.test(c)) {
      const start = this.pos++;
      while (this.pos < this.s.length && "0123456789.eE+-Inf".includes(this.s[this.pos]!)) this.pos++;
      const t = this.s.slice(start, this.pos);
      if (!/[.eIN]/.test(t)) return mkInt(BigInt(t));
      const f = t === "+Inf" ? Infinity : t === "-Inf" ? -Infinity : Number(t);
      return Number.isSafeInteger(f) && !Object.is(f, -0) ? float(f) : f;
    }
    const w = this.ident();
    if (w === "nil") return null;
    if (w === "true" || w === "false") return w === "true";
    if (w === "NaN") return NaN;
    throw this.err("not a value");
  }
  schema(): Schema {
    const name = this.ident();
    let sc: Schema;
    switch (name) {
      case "map": {
        this.expect("(");
        const k = this.schema();
        this.expect(",");
        const v = this.schema();
        this.expect(")");
        sc = S.mapOf(k, v);
        break;
      }
      case "set":
      case "list": {
        this.expect("(");
        const e = this.schema();
        this.expect(")");
        sc = name === "set" ? S.setOf(e) : S.listOf(e);
        break;
      }
      case "record": {
        this.expect("{");
        const fields: [string, Schema][] = [];
        while (!this.eat("}")) {
          if (fields.length > 0) this.expect(",");
          const fname = this.peek() === '"' ? this.quoted() : this.ident();
          this.expect(":");
          fields.push([fname, this.schema()]);
        }
        sc = S.record(fields);
        break;
      }
      case "any":
      case "bool":
      case "int":
      case "float":
      case "string":
      case "bytes":
        sc = S[name];
        break;
      default:
        throw this.err(`unknown schema type ${JSON.stringify(name)}`);
    }
    if (this.s.startsWith(".subindexed", this.pos)) {
      this.pos += ".subindexed".length;
      sc = sc.subindexed();
    }
    return sc;
  }
}

function goUnquote(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[abfnrtv\\"'])/g, (_, e: string) => {
    switch (e[0]) {
      case "x":
      case "u":
      case "U":
        return String.fromCodePoint(parseInt(e.slice(1), 16));
    }
    return ({ a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", '"': '"', "'": "'" } as Record<string, string>)[e]!;
  });
}

function parsePathText(s: string): Path {
  const p = new TextParser(s.trim());
  let path = emptyPath();
  for (let i = 0; p.peek() !== ""; i++) {
    if (i > 0) p.expect(".");
    const name = p.ident();
    p.expect("(");
    const args: unknown[] = [];
    const words: string[] = [];
    while (!p.eat(")")) {
      if (args.length + words.length > 0) p.expect(",");
      const c = p.peek();
      const rest = p.s.slice(p.pos);
      if (/[a-z]/.test(c) && !rest.startsWith("nil") && !rest.startsWith("true") && !rest.startsWith("false")) {
        let w = p.ident();
        if (w === "open") {
          args.push(null);
          continue;
        }
        if (p.eat("=")) w += "=" + String(p.value());
        words.push(w);
        continue;
      }
      args.push(p.value());
    }
    const arg = (j: number) => (j < args.length ? args[j] : null);
    switch (name) {
      case "key":
        path = path.key(arg(0));
        break;
      case "mustKey":
        path = path.mustKey(arg(0));
        break;
      case "nilToVal":
        path = path.nilToVal(arg(0));
        break;
      case "set":
        path = path.set(arg(0));
        break;
      case "merge":
        path = path.merge(arg(0));
        break;
      case "incr": {
        const a = arg(0);
        path = typeof a === "number" && !Number.isSafeInteger(a) ? path.incrFloat(a) : a instanceof Object && "value" in (a as object) ? path.incrFloat((a as { value: number }).value) : path.incr(a as number);
        break;
      }
      case "mapVals":
      case "mapKeys":
      case "all":
      case "first":
      case "last":
      case "remove":
        path = (path[name] as () => Path).call(path);
        break;
      case "nth":
        path = path.nth(Number(arg(0)));
        break;
      case "append":
        path = path.append(...args);
        break;
      case "prepend":
        path = path.prepend(...args);
        break;
      case "sortedRange": {
        const o: RangeOpts = {};
        for (const w of words) {
          if (w === "excludeFrom") o.excludeFrom = true;
          else if (w === "includeTo") o.includeTo = true;
          else if (w === "reverse") o.reverse = true;
          else if (w.startsWith("limit=")) o.limit = Number(w.slice(6));
        }
        path = path.sortedRange(arg(0), arg(1), o);
        break;
      }
      case "filter":
        path = words[0] === "exists" ? path.filterExists() : path.filter(words[0] as "eq", arg(0));
        break;
      case "view":
        path = path.view(words[0] === "size" ? "size" : "count");
        break;
      default:
        throw p.err(`unknown navigator ${JSON.stringify(name)}`);
    }
  }
  return path;
}

interface Case {
  line: number;
  cmd: string;
  args: Map<string, string>;
  input: string[];
  output: string[];
}

function parseDatadriven(data: string): Case[] {
  const lines = data.split("\n");
  const out: Case[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.trim() === "" || l.startsWith("#")) continue;
    const fields = l.trim().split(/\s+/);
    const c: Case = { line: i + 1, cmd: fields[0]!, args: new Map(), input: [], output: [] };
    for (const a of fields.slice(1)) {
      const [k, v] = a.split("=");
      c.args.set(k!, v ?? "");
    }
    for (i++; i < lines.length && lines[i] !== "----"; i++) c.input.push(lines[i]!);
    for (i++; i < lines.length && lines[i] !== ""; i++) c.output.push(lines[i]!);
    out.push(c);
  }
  return out;
}

function runOne(p: PStore, cmd: string, text: string): string {
  let path: Path;
  try {
    path = parsePathText(text);
  } catch (e) {
    return "error: " + (e as Error).message;
  }
  let steps, ptext;
  try {
    ({ steps, text: ptext } = pathSteps(path.steps, cmd === "transform" ? "transform" : "select"));
  } catch (e) {
    return "error: " + (e as Error).message;
  }
  try {
    if (cmd === "transform") {
      p.transform(steps, ptext);
      return "ok";
    }
    const vs = p.sel(steps, ptext);
    if (cmd === "select") return formatValue(vs);
    if (vs.length !== 1) {
      return `error: path: selectOne needs exactly one value, the path navigated to ${vs.length}; use select for zero or more (path ${ptext})`;
    }
    return formatValue(vs[0]);
  } catch (e) {
    return "error: " + (e as Error).message;
  }
}

function splitResults(c: Case): string[] {
  if (c.input.length === 1) return [c.output[0] ?? ""];
  const out: string[] = [];
  let j = 0;
  for (const inp of c.input) {
    const p = parsePathText(inp).toString();
    while (j < c.output.length && c.output[j] !== p) j++;
    out.push(j + 1 < c.output.length ? c.output[j + 1]! : "");
    j++;
  }
  return out;
}

const files = readdirSync(dir).sort();

test("the host's PState test files are there", () => {
  assert.ok(files.length >= 8, `only ${files.length} files in ${dir}`);
});

for (const f of files) {
  test(`host PState cases: ${f}`, () => {
    let s = parseSchema("any");
    let name = "ps";
    let parts = new Map<string, PStore>();
    const store = (c: Case) => {
      const k = c.args.get("partition") ?? "";
      if (!parts.has(k)) parts.set(k, new PStore(s));
      return parts.get(k)!;
    };
    let checked = 0;
    const fails: string[] = [];
    for (const c of parseDatadriven(readFileSync(dir + f, "utf8"))) {
      switch (c.cmd) {
        case "declare": {
          const sc = new TextParser(c.input.join(" ").trim()).schema();
          const def = { depots: [], topologies: [], pstates: [{ name: "p", schema: sc.toValue() }] };
          if (c.output[0]!.startsWith("error:")) {
            assert.throws(() => checkDefinition(def), Error, `line ${c.line}: the SDK accepts a schema the host refuses`);
            continue;
          }
          s = parseSchema(sc.toValue());
          name = c.args.get("name") ?? "ps";
          parts = new Map();
          break;
        }
        case "transform":
        case "select":
        case "select-one": {
          if (c.args.has("committed")) continue;
          const results = splitResults(c);
          c.input.forEach((text, i) => {
            let want = results[i]!;
            const got = runOne(store(c), c.cmd, text);
            if (want.startsWith("error: ")) {
              want = want.slice("error: ".length).replace(`storage: pstate m/${name}: `, "");
              if (got !== "error: " + want) fails.push(`line ${c.line}: ${c.cmd} ${text}:\n   got ${got}\n  want error: ${want}`);
            } else if (c.cmd === "transform") {
              if (got.startsWith("error: ")) fails.push(`line ${c.line}: transform ${text}: ${got}; the host succeeds`);
            } else if (got !== want) fails.push(`line ${c.line}: ${c.cmd} ${text}:\n   got ${got}\n  want ${want}`);
            checked++;
          });
          break;
        }
        case "model": {
          const got = formatValue(store(c).value());
          if (got !== c.output[0]) fails.push(`line ${c.line}: model ${got}, want ${c.output[0]}`);
          break;
        }
      }
    }
    assert.deepEqual(fails, []);
    if (process.env.SQUALL_VERBOSE) console.log(f, checked);
    assert.ok(checked > 0, "no case checked");
  });
}
