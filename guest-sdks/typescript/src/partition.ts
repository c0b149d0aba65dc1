// Key partitioning (ABI.md §4.3): FNV-1a 64 over the canonical encoding,
// then MurmurHash3's fmix64; partition = hash mod tasks.

import { encode } from "./codec.js";

const M64 = 0xffffffffffffffffn;

/** The 64-bit hash of a key's canonical encoding. */
export function hashBytes(b: Uint8Array): bigint {
  // FNV-1a in two 32-bit halves would be faster; bigint keeps it obviously right.
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < b.length; i++) {
    h = ((h ^ BigInt(b[i]!)) * 0x100000001b3n) & M64;
  }
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & M64;
  h ^= h >> 33n;
  h = (h * 0xc4ceb9fe1a85ec53n) & M64;
  h ^= h >> 33n;
  return h;
}

/** The hash of a key (any value). */
export function hashKey(key: unknown): bigint {
  return hashBytes(encode(key));
}

/** The partition (of tasks) that owns the key. */
export function keyPartition(key: unknown, tasks: number): number {
  return Number(hashKey(key) % BigInt(tasks));
}
