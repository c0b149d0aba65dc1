// Errors a stage can throw or meet, and how each maps to an item outcome
// (ABI.md §9.3): a plain exception is retried; PoisonError dead-letters the
// item at once; RetryableError is retried even where the SDK would poison.

import { EffectTooLargeError, errnoName } from "./frames.js";
import { EncodeError } from "./msgpack.js";
import { PathError } from "./path.js";

/** Throw it to dead-letter the item now, without retries. */
export class PoisonError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = "PoisonError";
    if (options && "cause" in options) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** Throw it to have the item delivered again later (after a backoff; dead-lettered after the host's maximum attempts). */
export class RetryableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = "RetryableError";
    if (options && "cause" in options) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** Wraps an error (or a message) so that the item is dead-lettered now. */
export function poison(err: unknown): PoisonError {
  if (err instanceof PoisonError) return err;
  if (err instanceof Error) {
    const p = new PoisonError(err.message, { cause: err });
    if (err.stack) p.stack = err.stack;
    return p;
  }
  return new PoisonError(String(err));
}

/** Wraps an error (or a message) so that the item is retried. */
export function retryable(err: unknown): RetryableError {
  if (err instanceof RetryableError) return err;
  if (err instanceof Error) {
    const r = new RetryableError(err.message, { cause: err });
    if (err.stack) r.stack = err.stack;
    return r;
  }
  return new RetryableError(String(err));
}

/** A query the host answered with an error (a path that does not fit the data, a key of another partition...). */
export class QueryError extends Error {
  readonly pstate: string;
  readonly path: string;
  readonly code: number;
  readonly hostMessage: string;
  constructor(pstate: string, path: string, code: number, message: string) {
    super(`squall: query ${pstate} ${path}: ${errnoName(code)}: ${message}`);
    this.name = "QueryError";
    this.pstate = pstate;
    this.path = path;
    this.code = code;
    this.hostMessage = message;
  }
}

/**
 * A query topology invoked with ctx.invoke failed (ABI 1.1): wrong
 * arguments (EINVAL, EBADID: the item is poisoned when uncaught), or the
 * invocation failed or ran late (EFAILED, ETIMEDOUT: the item is retried).
 */
export class InvokeError extends Error {
  readonly query: string;
  readonly code: number;
  readonly hostMessage: string;
  constructor(query: string, code: number, message: string) {
    super(`squall: invoke ${query}: ${errnoName(code)}: ${message}`);
    this.name = "InvokeError";
    this.query = query;
    this.code = code;
    this.hostMessage = message;
  }
}

/** The host rejected an effect of this item (the item is poisoned whatever the stage does). */
export class RejectedError extends Error {
  readonly code: number;
  readonly hostMessage: string;
  constructor(code: number, message: string) {
    super(`squall: the host rejected an effect of this item: ${errnoName(code)}: ${message}`);
    this.name = "RejectedError";
    this.code = code;
    this.hostMessage = message;
  }
}

/** The item's payload could not be decoded. */
export class InputError extends Error {
  constructor(stage: string, err: unknown) {
    super(`squall: stage "${stage}": input: ${String((err as Error)?.message ?? err).replace(/^squall: /, "")}`);
    this.name = "InputError";
  }
}

/** The host failed the call (a negative errno from flush or query): the whole batch is retried. */
export class HostFailedError extends Error {
  readonly code: number;
  constructor(code: number) {
    super(`squall: the host failed the call (${errnoName(code)}); the batch will be retried`);
    this.name = "HostFailedError";
    this.code = code;
  }
}

export const OutcomeOK = 0;
export const OutcomePoison = 1;
export const OutcomeRetry = 2;

/** The outcome and error kind of a thrown value. */
export function classify(e: unknown): { outcome: number; kind: string } {
  if (e instanceof PoisonError) return { outcome: OutcomePoison, kind: "poison" };
  if (e instanceof RetryableError) return { outcome: OutcomeRetry, kind: "retry" };
  if (e instanceof QueryError) return { outcome: e.code === -8 ? OutcomeRetry : OutcomePoison, kind: "query" };
  if (e instanceof InvokeError) return { outcome: e.code === -1 || e.code === -3 ? OutcomePoison : OutcomeRetry, kind: "invoke" };
  if (e instanceof RejectedError) return { outcome: OutcomePoison, kind: "rejected" };
  if (e instanceof InputError) return { outcome: OutcomePoison, kind: "input" };
  if (e instanceof HostFailedError) return { outcome: OutcomeRetry, kind: "host" };
  // Deterministic: the same item would fail the same way again.
  if (e instanceof PathError || e instanceof EncodeError || e instanceof EffectTooLargeError) return { outcome: OutcomePoison, kind: "poison" };
  return { outcome: OutcomeRetry, kind: "error" };
}

// JS's own error classes: their name is part of what went wrong (as
// "TypeError: x is undefined" in a console), so the message keeps it.
const builtinErrors = new Set(["TypeError", "RangeError", "ReferenceError", "SyntaxError", "EvalError", "URIError", "InternalError", "AggregateError"]);

/** The message of a thrown value. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return builtinErrors.has(e.name) ? `${e.name}: ${e.message}` : e.message;
  try {
    return String(e);
  } catch {
    return "a value that cannot be shown was thrown";
  }
}
