/**
 * @squall/sdk: write Squall modules in TypeScript. Declare depots, PStates
 * and stream topologies with {@link defineModule}; stages are functions of
 * a {@link Ctx} and the item. See the README for the value mapping.
 *
 * @packageDocumentation
 */
export { defineModule, Module, ModuleBuilder, Depot, PState, Stage, Stages, Topology, Query, hashBy, hashRecord, random, disallow } from "./module.js";
export type { Partitioner, StageFn, BuiltModule, StartFrom, SourceOptions, MicrobatchOptions } from "./module.js";
export { agg, maxTopN } from "./agg.js";
export type { Agg } from "./agg.js";
export { Ctx } from "./ctx.js";
export type { AckLevel, AppendOptions, LogLevel } from "./ctx.js";
export { Path, path, key, mustKey, PathError, parsePath, validatePath } from "./path.js";
export type { FilterOp, ViewFn, RangeOpts, PathMode } from "./path.js";
export { Schema, schema } from "./schema.js";
export { Float64, float, toNumber } from "./value.js";
export { recordParser, FieldError } from "./fields.js";
export type { FieldKind, FieldType, RecordOf } from "./fields.js";
export type { Value } from "./value.js";
export { encode, decode } from "./codec.js";
export { DecodeError, EncodeError, compareEncoded } from "./msgpack.js";
export { PoisonError, RetryableError, QueryError, InvokeError, RejectedError, InputError, HostFailedError, poison, retryable } from "./errors.js";
export { DefinitionError, checkDefinition } from "./defcheck.js";
export type { DefProblem } from "./defcheck.js";
export { formatValue, kindOf, quote } from "./text.js";
export { hashKey, keyPartition } from "./partition.js";
