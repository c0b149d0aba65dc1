// The codec the SDK uses: the QuickJS runtime's native codec when it is
// installed (globalThis.__squall.encode/decode), the pure-TS one otherwise.
// Both implement the mapping documented in msgpack.ts and the README.

import { Float64 } from "./value.js";
import { decodePure, encodePure } from "./msgpack.js";

/** The native object the QuickJS runtime installs (ABI glue); absent under Node. */
export interface SquallNative {
  flush(buf: Uint8Array): number;
  query(req: Uint8Array): Uint8Array;
  take?(): Uint8Array | null;
  encode?(value: unknown): Uint8Array;
  decode?(buf: Uint8Array): unknown;
}

const g = globalThis as unknown as {
  __squall?: SquallNative;
  __squallFloat64?: typeof Float64;
};

// The native codec builds and recognises Float64 through this global.
g.__squallFloat64 = Float64;

/** The native glue, if this code runs inside the Squall QuickJS runtime. */
export function native(): SquallNative | undefined {
  return g.__squall;
}

/** The canonical MessagePack encoding of v (throws EncodeError, or the native codec's TypeError/RangeError). */
export function encode(v: unknown): Uint8Array {
  const n = g.__squall;
  if (n !== undefined && n.encode !== undefined) {
    try {
      return n.encode(v);
    } catch (e) {
      // Report what the pure codec reports (an EncodeError naming the place
      // in the value), so errors are the same under Node and in wasm.
      encodePure(v);
      throw e;
    }
  }
  return encodePure(v);
}

/** Decodes exactly one canonical-or-lenient MessagePack value (throws DecodeError). */
export function decode(b: Uint8Array): unknown {
  const n = g.__squall;
  if (n !== undefined && n.decode !== undefined) return n.decode(b);
  return decodePure(b);
}
