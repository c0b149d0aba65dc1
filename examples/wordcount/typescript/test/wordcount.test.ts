import { test } from "node:test";
import assert from "node:assert/strict";
import { key, path } from "@squall/sdk";
import { Harness } from "@squall/sdk/testing";
import wordcount, { words, type Sentence } from "../src/index.js";

test("words", () => {
  const cases: [string, string[]][] = [
    ["", []],
    ["  \t\n", []],
    ["...!?", []],
    ["Hello, hello WORLD!", ["hello", "hello", "world"]],
    ["Don't stop", ["don", "t", "stop"]],
    ["route66 is 3,000 km", ["route66", "is", "3", "000", "km"]],
    ["ÇA VA? Ça va.", ["ça", "va", "ça", "va"]],
    ["tab\tand—dash", ["tab", "and", "dash"]],
    // Simple case mapping, as Go and Rust: İ is i, final Σ is σ.
    ["İSTANBUL ΟΔΟΣ ǅemal", ["istanbul", "οδοσ", "ǆemal"]],
  ];
  for (const [text, want] of cases) assert.deepEqual(words(text), want, JSON.stringify(text));
});

const count = (h: Harness, w: string) => h.selectOne<number>("$$wordCounts", key(w)) ?? 0;

test("counts and the ack return", () => {
  const h = new Harness(wordcount, { partitions: 4 });
  const a = h.append<Sentence>("sentences", { user: "ann", text: "Hello, hello WORLD!" });
  assert.equal(a.ackReturn("wordcount"), 3);
  h.append<Sentence>("sentences", { user: "bob", text: "world peace" });
  for (const [w, n] of Object.entries({ hello: 2, world: 2, peace: 1, war: 0 })) assert.equal(count(h, w), n, w);
  assert.equal(a.partition, h.keyPartition("ann"));
  assert.deepEqual(h.deadLetters(), []);
});

test("words live on their partitions", () => {
  const h = new Harness(wordcount, { partitions: 4 });
  const ws = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split(" ");
  h.append<Sentence>("sentences", { user: "ann", text: ws.join(" ") });
  const owners = new Set<number>();
  for (const w of ws) {
    const owner = h.keyPartition(w);
    owners.add(owner);
    for (let p = 0; p < h.partitions; p++) {
      const got = h.selectPartition("$$wordCounts", p, path().mustKey(w));
      assert.equal(got.length === 1, p === owner, `${w} on ${p} (owner ${owner})`);
    }
  }
  assert.ok(owners.size >= 2, "all words hash to one partition: the test proves nothing");
});

test("empty sentences count nothing", () => {
  const h = new Harness(wordcount, { partitions: 2 });
  for (const text of ["", "   ", "?!"]) assert.equal(h.append<Sentence>("sentences", { user: "ann", text }).ackReturn("wordcount"), 0);
  for (let p = 0; p < 2; p++) assert.equal(h.pstate("$$wordCounts", p), null);
  assert.deepEqual(h.deadLetters(), []);
});

test("a malformed record is dead-lettered, the next one counted", () => {
  const h = new Harness(wordcount, { partitions: 2 });
  h.append("sentences", { user: "ann", text: 42 });
  h.append<Sentence>("sentences", { user: "ann", text: "still counting" });
  const dl = h.deadLetters();
  assert.equal(dl.length, 1);
  assert.equal(dl[0]!.stage, "split");
  assert.equal(dl[0]!.kind, "record");
  assert.equal(dl[0]!.attempts, 1);
  assert.match(dl[0]!.error.message, /text/);
  assert.equal(count(h, "still"), 1);
  assert.equal(count(h, "counting"), 1);
});

test("random sentences", () => {
  const h = new Harness(wordcount, { partitions: 4, manual: true, batchSize: 64 });
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const vocab = Array.from({ length: 150 }, (_, i) => `w${String(i).padStart(3, "0")}`);
  const want = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    let text = "";
    for (let j = rnd(12); j > 0; j--) {
      let w = vocab[rnd(vocab.length)]!;
      want.set(w, (want.get(w) ?? 0) + 1);
      if (rnd(3) === 0) w = w.toUpperCase();
      text += w + [" ", ", ", "! ", " -- ", "\n"][rnd(5)];
    }
    h.append<Sentence>("sentences", { user: `user${i % 13}`, text });
  }
  h.run();
  const got = new Map<string, number>();
  for (let p = 0; p < h.partitions; p++) {
    for (const [w, n] of Object.entries((h.pstate("$$wordCounts", p) ?? {}) as Record<string, number>)) got.set(w, n);
  }
  assert.deepEqual(got, want);
  assert.equal(h.stats().deadLetters, 0);
  assert.equal(h.stats().retries, 0);
});

test("words: astral letters and digits, separators of every kind", () => {
  assert.deepEqual(words("𝐀𝐁c 😀 x٣y"), ["𝐀𝐁c".toLowerCase(), "x٣y"]);
  assert.deepEqual(words("a\u00a0b\u2003c"), ["a", "b", "c"]);
});
