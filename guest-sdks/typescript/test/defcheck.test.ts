import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonl, typed } from "./golden.js";
import { checkDefinition, DefinitionError } from "../src/defcheck.js";

test("module_def_invalid.jsonl: every problem, in order, with the host's messages", () => {
  const vs = jsonl("frames/module_def_invalid.jsonl");
  assert.ok(vs.length >= 20);
  for (const v of vs) {
    let got: string[] = [];
    try {
      checkDefinition(typed(v.definition));
    } catch (e) {
      assert.ok(e instanceof DefinitionError, String(e));
      got = e.problems.map((p) => `${p.where}: ${p.msg}`);
    }
    assert.deepEqual(got, v.problems, v.name);
  }
});

test("module_def.jsonl: valid definitions pass", () => {
  for (const v of jsonl("frames/module_def.jsonl")) checkDefinition(typed(v.definition));
});
