// A Squall module that counts words: the TypeScript twin of
// examples/wordcount/go (same definition, same behaviour, byte for byte).
//
// Clients append sentences {"user": ..., "text": ...} to the depot
// "sentences", which is partitioned by user. The stream topology
// "wordcount" splits each sentence into lowercase words on the sentence's
// partition (stage "split"), hops every word to the partition that owns it
// (a hash hop keyed by the word), and there increments the word's count in
// the PState "$$wordCounts" (stage "count"). A client that appends with ACK
// gets the sentence's number of words back as the topology's ack return,
// once every word is counted.

import { defineModule, hashBy, key, recordParser, schema } from "@squall/sdk";

/** A record of the depot "sentences". */
export interface Sentence {
  user: string;
  text: string;
}

const wordChar = /^[\p{L}\p{Nd}]$/u;

/** Whether the character at text[i] (a code point starting there) is a letter or decimal digit; ASCII without a regex. */
function isWordChar(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 128) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
  return wordChar.test(String.fromCodePoint(text.codePointAt(i)!));
}

/** Lowercases a word character by character with the simple case mapping. */
function lower(w: string, ascii: boolean): string {
  if (ascii) return w.toLowerCase(); // the same as character by character
  let l = "";
  for (const ch of w) {
    // Full lowercasing can give several characters ("İ" -> "i̇"); keep the first, as Go and Rust do.
    l += String.fromCodePoint(ch.toLowerCase().codePointAt(0)!);
  }
  return l;
}

/**
 * Splits text into words: the maximal runs of letters (Unicode L) and
 * decimal digits (Nd), lowercased character by character with the simple
 * case mapping (as Go's strings.ToLower: "İ" is "i", no final-sigma rule),
 * so "Don't stop, DON'T!" is "don", "t", "stop", "don", "t".
 */
export function words(text: string): string[] {
  const out: string[] = [];
  let start = -1;
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    const wide = text.charCodeAt(i) >= 0xd800 && text.charCodeAt(i) <= 0xdbff && i + 1 < text.length;
    if (isWordChar(text, i)) {
      if (start < 0) {
        start = i;
        ascii = true;
      }
      if (text.charCodeAt(i) >= 128) ascii = false;
    } else if (start >= 0) {
      out.push(lower(text.slice(start, i), ascii));
      start = -1;
    }
    if (wide) i++;
  }
  if (start >= 0) out.push(lower(text.slice(start), ascii));
  return out;
}

/** Reads a sentence record: absent fields are empty; a field of another kind dead-letters the record (kind "input"). */
export const parseSentence: (v: unknown) => Sentence = recordParser({ user: "string", text: "string" });

export default defineModule("wordcount", (m) => {
  const sentences = m.depot<Sentence>("sentences", hashBy(key("user")));
  const wordCounts = m.pstate<string, number>("$$wordCounts", schema.mapOf(schema.string, schema.int));

  const t = m.stream("wordcount");
  const split = t.stage("split", parseSentence, (ctx, s) => {
    const ws = words(s.text);
    // Count each word on the partition that owns it: the hop's key picks
    // the partition, the payload is the word itself.
    for (const w of ws) ctx.hop(count, w, w);
    // The ack return of the sentence.
    ctx.emit(ws.length);
  });
  const count = t.stage<string>("count", (ctx, word) => {
    // An absent word counts from 0 (incr treats nil as 0).
    ctx.transform(wordCounts, key(word).incr(1));
  });
  t.source(sentences, split);
});
