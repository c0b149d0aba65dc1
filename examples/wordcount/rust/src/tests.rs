//! The tests of `examples/wordcount/go`, run natively with the SDK's
//! harness.

use std::collections::BTreeMap;

use squall::testing::{Harness, Options};
use squall::{key, map, Path, Rng, Value};

use super::*;

fn sentence(user: &str, text: &str) -> Sentence {
    Sentence { user: user.into(), text: text.into() }
}

#[test]
fn words_split() {
    let cases: &[(&str, &[&str])] = &[
        ("", &[]),
        ("  \t\n", &[]),
        ("...!?", &[]),
        ("Hello, hello WORLD!", &["hello", "hello", "world"]),
        ("Don't stop", &["don", "t", "stop"]),
        ("route66 is 3,000 km", &["route66", "is", "3", "000", "km"]),
        ("ÇA VA? Ça va.", &["ça", "va", "ça", "va"]),
        ("tab\tand—dash", &["tab", "and", "dash"]),
    ];
    for (text, want) in cases {
        assert_eq!(words(text), *want, "words({:?})", text);
    }
}

/// A word's count as a client reads it (0 when absent).
fn count(h: &Harness, word: &str) -> i64 {
    h.select_one("$$wordCounts", key(word)).as_int().unwrap_or(0)
}

#[test]
fn counts_and_ack_return() {
    let mut h = Harness::new(define, 4);
    let a = h.append("sentences", sentence("ann", "Hello, hello WORLD!"));
    assert_eq!(a.ack_return("wordcount"), Some(Value::Int(3)));
    h.append("sentences", sentence("bob", "world peace"));
    for (w, want) in [("hello", 2), ("world", 2), ("peace", 1), ("war", 0)] {
        assert_eq!(count(&h, w), want, "{}", w);
    }
    // The sentence went to its user's partition.
    assert_eq!(a.partition, h.key_partition("ann"));
    assert!(h.dead_letters().is_empty(), "{:?}", h.dead_letters());
}

/// Each word is counted on the partition that owns it, and only there.
#[test]
fn words_live_on_their_partitions() {
    let mut h = Harness::new(define, 4);
    let ws = "alpha beta gamma delta epsilon zeta eta theta iota kappa";
    h.append("sentences", sentence("ann", ws));
    let mut parts = std::collections::BTreeSet::new();
    for w in ws.split(' ') {
        let owner = h.key_partition(w);
        parts.insert(owner);
        for p in 0..h.partitions() {
            let got = h.select_partition("$$wordCounts", p, Path::new().must_key(w));
            assert_eq!(got.len() == 1, p == owner, "{} on partition {} (owner {}): {:?}", w, p, owner, got);
        }
    }
    assert!(parts.len() >= 2, "ten words all hash to partitions {:?}: the test proves nothing", parts);
}

#[test]
fn empty_sentences() {
    let mut h = Harness::new(define, 2);
    for text in ["", "   ", "?!"] {
        let a = h.append("sentences", sentence("ann", text));
        assert_eq!(a.ack_return("wordcount"), Some(Value::Int(0)), "{:?}", text);
    }
    for p in 0..h.partitions() {
        let v = h.pstate("$$wordCounts", p);
        assert!(v.is_nil() || v.is_empty(), "partition {} counts {}", p, v);
    }
    assert!(h.dead_letters().is_empty(), "{:?}", h.dead_letters());
}

/// A record that is not a sentence cannot be processed: it is
/// dead-lettered at once, and the records after it are processed.
#[test]
fn malformed_record_is_dead_lettered() {
    let mut h = Harness::with_options(define, 2, Options::new().quiet());
    h.append("sentences", map! { "user" => "ann", "text" => 42 });
    h.append("sentences", sentence("ann", "still counting"));
    let dl = h.dead_letters();
    assert_eq!(dl.len(), 1, "{:?}", dl);
    assert_eq!((dl[0].stage.as_str(), dl[0].kind.as_str(), dl[0].attempts), ("split", "record", 1));
    assert!(dl[0].error.message.contains("text"), "the error does not name the field: {:?}", dl[0].error);
    assert_eq!((count(&h, "still"), count(&h, "counting")), (1, 1));
}

/// Random sentences, processed in batches: every count equals the number
/// of times the word was written, whatever its case and punctuation. The
/// generator is the Go test's (math/rand/v2 PCG), so the sentences are the
/// same.
#[test]
fn random_sentences() {
    let mut h = Harness::with_options(define, 4, Options::new().manual().batch_size(64));
    let mut r = Rng::new(7, 11);
    let vocab: Vec<String> = (0..150).map(|i| format!("w{:03}", i)).collect();
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    for i in 0..400 {
        let mut sb = String::new();
        for _ in 0..r.below(12) {
            let mut w = vocab[r.below(vocab.len() as u64) as usize].clone();
            *want.entry(w.clone()).or_insert(0) += 1;
            if r.below(3) == 0 {
                w = w.to_uppercase();
            }
            sb.push_str(&w);
            sb.push_str([" ", ", ", "! ", " -- ", "\n"][r.below(5) as usize]);
        }
        h.append("sentences", sentence(&format!("user{}", i % 13), &sb));
    }
    h.run();
    let mut got: BTreeMap<String, i64> = BTreeMap::new();
    for p in 0..h.partitions() {
        if let Value::Map(m) = h.pstate("$$wordCounts", p) {
            for (k, v) in m.iter() {
                got.insert(k.as_str().unwrap().to_string(), v.as_int().unwrap());
            }
        }
    }
    assert_eq!(got, want);
    let s = h.stats();
    assert_eq!((s.dead_letters, s.retries), (0, 0), "{:?}", s);
}

/// The definition is byte for byte the Go twin's.
#[test]
fn definition() {
    let h = Harness::new(define, 1);
    assert_eq!(
        h.definition().to_string(),
        r#"{"name": "wordcount", "depots": [{"name": "sentences", "partitioner": {"key": [[1, "user"]], "kind": "hash"}}], "pstates": [{"name": "$$wordCounts", "schema": {"key": "string", "val": "int", "type": "map"}}], "topologies": [{"kind": "stream", "name": "wordcount", "stages": ["split", "count"], "sources": [{"depot": "sentences", "stage": "split"}]}]}"#
    );
}
