// Go's text forms of values, paths and schemas (as the host's tests and
// the golden vectors write them), parsed into the SDK's values and builders.
import { Path, path as emptyPath, schema as S, Schema, float, type RangeOpts } from "../src/index.js";
import { mkMap, mkSet, mkInt } from "../src/testing/values.js";

export class TextParser {
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

export function parsePathText(s: string): Path {
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

