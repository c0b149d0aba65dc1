//! The bank module under the test harness (the same checks as
//! `examples/bank/go/main_test.go`).

use std::collections::BTreeMap;

use squall::testing::{Harness, Options};
use squall::{list, Errno, Rng, Value};

use super::*;

fn deposit(h: &mut Harness, account: &str, amount: i64) {
    h.append("deposits", Deposit { account: account.into(), amount });
}

fn transfer(h: &mut Harness, id: &str, from: &str, to: &str, amount: i64) {
    h.append("transfers", Transfer { id: id.into(), from: from.into(), to: to.into(), amount });
}

fn balance(h: &mut Harness, account: &str) -> i64 {
    h.query("account", list![account, 0]).field("balance").as_int().unwrap_or(0)
}

#[test]
fn transfers_and_queries() {
    let mut h = Harness::new(define, 4);
    deposit(&mut h, "ann", 100);
    deposit(&mut h, "bob", 50);
    transfer(&mut h, "t1", "ann", "bob", 30);
    transfer(&mut h, "t2", "bob", "ann", 500); // refused: bob has 80
    transfer(&mut h, "t3", "bob", "cat", 80);

    for (acct, want) in [("ann", 70), ("bob", 0), ("cat", 80)] {
        assert_eq!(balance(&mut h, acct), want, "balance of {}", acct);
    }
    assert_eq!(h.query("total", list![]), Value::Int(150));

    let v = h.query("account", list!["bob", 2]);
    let hist = v.field("transfers").items();
    assert_eq!(hist.len(), 2, "bob's last 2 transfers: {}", v);
    // Newest first: t3 debited, then t2 refused.
    assert_eq!((hist[0].field("kind").as_str(), hist[0].field("id").as_str()), (Some(DEBITED), Some("t3")));
    assert_eq!((hist[1].field("kind").as_str(), hist[1].field("id").as_str()), (Some(REFUSED), Some("t2")));

    let stats = h.query("stats", list![]);
    assert_eq!(stats.field(CREDITED).field("count"), &Value::Int(2), "stats {}", stats);
    assert_eq!(stats.field(CREDITED).field("largest").to_string(), r#"[[80, "t3"], [30, "t1"]]"#);
    assert_eq!(stats.field(REFUSED).field("amount"), &Value::Int(500));
    assert!(h.dead_letters().is_empty());
}

#[test]
fn bad_input() {
    let mut h = Harness::with_options(define, 2, Options::new().quiet());
    transfer(&mut h, "x", "ann", "ann", 5);
    deposit(&mut h, "ann", -5);
    let dls = h.dead_letters();
    assert_eq!(dls.len(), 2, "{:?}", dls);
    assert!(dls[0].error.message.contains("two different accounts"), "{:?}", dls[0]);
    assert!(dls[1].error.message.contains("positive"), "{:?}", dls[1]);

    let e = h.try_query("account", list!["ann"]).unwrap_err();
    assert_eq!(e.code, Errno::EINVAL);
    assert!(e.message.contains("takes 2 arguments (id, limit); got 1"), "{}", e);
    let e = h.try_query("account", list!["ann", 5000]).unwrap_err();
    assert_eq!(e.code, Errno::EFAILED);
    assert!(e.message.contains("limit must be from 0 to 1000"), "{}", e);
}

/// Random transfers keep the total and record every transfer once in the
/// history of its sender (debit or refused) and once in its receiver's
/// when applied.
#[test]
fn random_transfers_conserve_money() {
    let mut h = Harness::with_options(define, 8, Options::new().batch_size(32).manual());
    const ACCOUNTS: u64 = 12;
    let name = |i: u64| format!("a{:02}", i);
    for i in 0..ACCOUNTS {
        deposit(&mut h, &name(i), 100);
    }
    h.run();
    let mut rng = Rng::new(7, 7);
    for i in 0..300 {
        let from = rng.below(ACCOUNTS);
        let mut to = rng.below(ACCOUNTS - 1);
        if to >= from {
            to += 1;
        }
        transfer(&mut h, &format!("t{}", i), &name(from), &name(to), 1 + rng.below(60) as i64);
        if i % 50 == 49 {
            h.run(); // several transfers per microbatch
        }
    }
    h.run();
    assert_eq!(h.query("total", list![]), Value::Int(ACCOUNTS as i64 * 100));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..ACCOUNTS {
        let v = h.query("account", list![name(i), 1000]);
        for e in v.field("transfers").items() {
            let k = format!("{} {}", e.field("kind").as_str().unwrap_or(""), e.field("id").as_str().unwrap_or(""));
            *seen.entry(k).or_insert(0) += 1;
        }
    }
    for i in 0..300 {
        let id = format!("t{}", i);
        let get = |k: &str| seen.get(&format!("{} {}", k, id)).copied().unwrap_or(0);
        let (d, r, c) = (get(DEBITED), get(REFUSED), get(CREDITED));
        assert!(d + r == 1 && c == d, "transfer {}: debited {}, refused {}, credited {}", id, d, r, c);
    }
    assert!(h.stats().microbatches >= 7, "{:?}", h.stats());
    assert!(h.dead_letters().is_empty());
}

/// A microbatch is all or nothing: a poison transfer is dead-lettered and
/// the rest of its microbatch applies once.
#[test]
fn poison_leaves_the_rest_of_the_microbatch() {
    let mut h = Harness::with_options(define, 4, Options::new().manual().quiet());
    deposit(&mut h, "ann", 100);
    transfer(&mut h, "t1", "ann", "bob", 10);
    transfer(&mut h, "", "ann", "bob", 10); // no id: poison
    transfer(&mut h, "t3", "ann", "cat", 5);
    h.run();
    assert_eq!(h.stats().microbatches, 1);
    assert_eq!(h.dead_letters().len(), 1);
    assert_eq!((balance(&mut h, "ann"), balance(&mut h, "bob"), balance(&mut h, "cat")), (85, 10, 5));
    assert_eq!(h.query("total", list![]), Value::Int(100));
}
