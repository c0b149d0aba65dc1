// The bank module under the in-memory host (the same checks as
// examples/bank/go/main_test.go and examples/bank/rust/src/tests.rs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatValue, InvokeError } from "@squall/sdk";
import { Harness } from "@squall/sdk/testing";
import bank, { CREDITED, DEBITED, REFUSED, type Entry } from "../src/index.js";

type Account = { balance: number | null; transfers: Entry[] };

const deposit = (h: Harness, account: string, amount: number) => h.append("deposits", { account, amount });
const transfer = (h: Harness, id: string, from: string, to: string, amount: number) => h.append("transfers", { id, from, to, amount });
const balance = (h: Harness, account: string) => h.query<Account>("account", [account, 0]).balance ?? 0;

test("transfers and queries", () => {
  const h = new Harness(bank, { partitions: 4 });
  deposit(h, "ann", 100);
  deposit(h, "bob", 50);
  transfer(h, "t1", "ann", "bob", 30);
  transfer(h, "t2", "bob", "ann", 500); // refused: bob has 80
  transfer(h, "t3", "bob", "cat", 80);
  for (const [acct, want] of [["ann", 70], ["bob", 0], ["cat", 80]] as const) assert.equal(balance(h, acct), want, `balance of ${acct}`);
  assert.equal(h.query("total"), 150);

  const v = h.query<Account>("account", ["bob", 2]);
  assert.equal(v.transfers.length, 2, formatValue(v));
  // Newest first: t3 debited, then t2 refused.
  assert.deepEqual(v.transfers.map((e) => [e.kind, e.id]), [[DEBITED, "t3"], [REFUSED, "t2"]]);

  const stats = h.query<Record<string, Record<string, unknown>>>("stats");
  assert.equal(stats[CREDITED]!.count, 2, formatValue(stats));
  assert.equal(formatValue(stats[CREDITED]!.largest), '[[80, "t3"], [30, "t1"]]');
  assert.equal(stats[REFUSED]!.amount, 500);
  assert.deepEqual(h.deadLetters(), []);
});

test("bad input", () => {
  const h = new Harness(bank, { partitions: 2 });
  transfer(h, "x", "ann", "ann", 5);
  deposit(h, "ann", -5);
  const dls = h.deadLetters();
  assert.equal(dls.length, 2, JSON.stringify(dls));
  assert.match(dls[0]!.error.message, /two different accounts/);
  assert.match(dls[1]!.error.message, /positive/);

  assert.throws(
    () => h.query("account", ["ann"]),
    (e: unknown) => e instanceof InvokeError && e.code === -1 && e.hostMessage.includes("takes 2 arguments (id, limit); got 1"),
  );
  assert.throws(
    () => h.query("account", ["ann", 5000]),
    (e: unknown) => e instanceof InvokeError && e.code === -13 && e.hostMessage.includes("limit must be from 0 to 1000"),
  );
});

/** A deterministic generator (xorshift) for the random transfers. */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

// Random transfers keep the total and record every transfer once in the
// history of its sender (debit or refused) and once in its receiver's when
// applied.
test("random transfers conserve money", () => {
  const h = new Harness(bank, { partitions: 8, batchSize: 32, manual: true });
  const accounts = 12;
  const name = (i: number) => `a${String(i).padStart(2, "0")}`;
  for (let i = 0; i < accounts; i++) deposit(h, name(i), 100);
  h.run();
  const below = rng(7);
  for (let i = 0; i < 300; i++) {
    const from = below(accounts);
    let to = below(accounts - 1);
    if (to >= from) to++;
    transfer(h, `t${i}`, name(from), name(to), 1 + below(60));
    if (i % 50 === 49) h.run(); // several transfers per microbatch
  }
  h.run();
  assert.equal(h.query("total"), accounts * 100);
  const seen = new Map<string, number>();
  for (let i = 0; i < accounts; i++) {
    for (const e of h.query<Account>("account", [name(i), 1000]).transfers) seen.set(`${e.kind} ${e.id}`, (seen.get(`${e.kind} ${e.id}`) ?? 0) + 1);
  }
  for (let i = 0; i < 300; i++) {
    const get = (k: string) => seen.get(`${k} t${i}`) ?? 0;
    const [d, r, c] = [get(DEBITED), get(REFUSED), get(CREDITED)];
    assert.ok(d + r === 1 && c === d, `transfer t${i}: debited ${d}, refused ${r}, credited ${c}`);
  }
  assert.ok(h.stats().microbatches >= 7, JSON.stringify(h.stats()));
  assert.deepEqual(h.deadLetters(), []);
});

// A microbatch is all or nothing: a poison transfer is dead-lettered and
// the rest of its microbatch applies once.
test("poison leaves the rest of the microbatch", () => {
  const h = new Harness(bank, { partitions: 4, manual: true });
  deposit(h, "ann", 100);
  transfer(h, "t1", "ann", "bob", 10);
  transfer(h, "", "ann", "bob", 10); // no id: poison
  transfer(h, "t3", "ann", "cat", 5);
  h.run();
  assert.equal(h.stats().microbatches, 1);
  assert.equal(h.deadLetters().length, 1);
  assert.equal(h.deadLetters()[0]!.input && (h.deadLetters()[0]!.input as { id: string }).id, "");
  assert.deepEqual([balance(h, "ann"), balance(h, "bob"), balance(h, "cat")], [85, 10, 5]);
  assert.equal(h.query("total"), 100);
});
