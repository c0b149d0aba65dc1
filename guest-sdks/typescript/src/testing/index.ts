/**
 * @squall/sdk/testing: run a module's stages in memory, under vitest,
 * node:test or any runner, with the host's semantics and no wasm.
 *
 * @packageDocumentation
 */
export { Harness, Appended } from "./harness.js";
export type { HarnessOptions, DeadLetter, LogLine, Stats } from "./harness.js";
