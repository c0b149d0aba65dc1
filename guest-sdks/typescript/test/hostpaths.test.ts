// Replays the host's datadriven PState tests (storage/testdata/pstate)
// through the in-memory host's PState engine: every select, select-one and
// transform must give the host's result or error message, as the Go SDK's
// squalltest checks. Change lists and storage dumps are the host's business.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { checkDefinition, formatValue, type Path } from "../src/index.js";
import { TextParser, parsePathText } from "./pathtext.js";
import { PStore } from "../src/testing/harness.js";
import { parseSchema } from "../src/testing/schema.js";
import { pathSteps } from "../src/testing/engine.js";

const dir = fileURLToPath(new URL("../../../storage/testdata/pstate/", import.meta.url));

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
