//! The SDK's own tests against the ABI's golden vectors
//! (`../../abi/testdata`).
mod api;
mod frames;
mod golden;
mod json;
mod runtime;
