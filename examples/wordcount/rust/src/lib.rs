//! A Squall module that counts words: the Rust twin of
//! `examples/wordcount/go` (same definition, same behaviour, byte for
//! byte).
//!
//! Clients append sentences `{"user": ..., "text": ...}` to the depot
//! "sentences", which is partitioned by user. The stream topology
//! "wordcount" splits each sentence into lowercase words on the sentence's
//! partition (stage "split"), hops every word to the partition that owns it
//! (a hash hop keyed by the word), and there increments the word's count in
//! the PState "$$wordCounts" (stage "count"). A client that appends with
//! ACK gets the sentence's number of words back as the topology's ack
//! return, once every word is counted.
//!
//! Build it to WebAssembly with
//!
//! ```text
//! cargo build --release --target wasm32-wasip1    # wasm32-wasi before Rust 1.78
//! ```

use squall::{key, map, ConvertError, Ctx, FromValue, Module, Partitioner, Schema, Value};

/// A record of the depot "sentences".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sentence {
    /// Who wrote it (the depot's partitioning key).
    pub user: String,
    /// The text.
    pub text: String,
}

impl From<Sentence> for Value {
    /// `{"user": ..., "text": ...}`.
    fn from(s: Sentence) -> Value {
        map! { "user" => s.user, "text" => s.text }
    }
}

impl FromValue for Sentence {
    /// Reads a sentence; absent fields are empty.
    fn from_value(v: Value) -> Result<Sentence, ConvertError> {
        Ok(Sentence { user: v.field_as("user")?, text: v.field_as("text")? })
    }
}

/// Splits text into words: the maximal runs of letters and digits,
/// lowercased. Everything else (spaces, punctuation, symbols) separates
/// words, so "Don't stop, DON'T!" is "don", "t", "stop", "don", "t".
///
/// Letters and digits are Rust's alphabetic and numeric characters; the Go
/// twin uses Unicode's L and Nd categories, which agree on every script's
/// letters and decimal digits (they differ on rarities such as Roman
/// numeral signs and superscript digits).
pub fn words(text: &str) -> Vec<String> {
    // Lowercase rune by rune (Go's strings.ToLower: simple case mapping,
    // no final-sigma rule).
    let lower: String = text.chars().map(|c| c.to_lowercase().next().unwrap_or(c)).collect();
    lower
        .split(|c: char| !(c.is_alphabetic() || c.is_numeric()))
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// Declares the module.
pub fn define(m: &mut Module) {
    m.name("wordcount");
    let sentences = m.depot_of::<Sentence>("sentences", Partitioner::HashBy(key("user")));
    let word_counts = m.pstate("$$wordCounts", Schema::map_of(Schema::String, Schema::Int));

    let mut t = m.stream("wordcount");
    let split = t.declare_stage::<Sentence>("split"); // it hops to count, declared below
    let count = t.stage("count", move |ctx: &mut Ctx, word: String| {
        // An absent word counts from 0 (incr treats nil as 0).
        ctx.transform(&word_counts, key(word).incr(1))
    });
    t.implement(&split, move |ctx: &mut Ctx, s: Sentence| {
        let words = words(&s.text);
        for w in &words {
            // Count the word on the partition that owns it: the hop's key
            // picks the partition, the payload is the word itself.
            ctx.hop(&count, w.as_str(), w.as_str())?;
        }
        // The ack return of the sentence: an appender that waits with ACK
        // receives it once every hop above is done.
        ctx.emit(words.len())
    });
    t.source(&sentences, &split);
}

squall::module!(define);

#[cfg(test)]
mod tests;
