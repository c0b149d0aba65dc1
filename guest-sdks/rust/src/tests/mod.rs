//! The SDK's own tests against the ABI's golden vectors
//! (`../../abi/testdata`).
mod golden;
mod json;
