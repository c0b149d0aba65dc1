//! Errors of stages and how they end their item.

use std::fmt;

use crate::wire;

/// A negative error code of the ABI, carried by query errors and rejected
/// effects ([`Error::code`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// Malformed frame or argument; a non-LOCAL append to a `disallow` depot.
    pub const EINVAL: Errno = Errno(wire::EINVAL);
    /// No such depot, PState or stage.
    pub const EBADID: Errno = Errno(wire::EBADID);
    /// A frame or result exceeds a size limit.
    pub const ETOOBIG: Errno = Errno(wire::ETOOBIG);
    /// The key belongs to another partition (hop there first).
    pub const EWRONGPART: Errno = Errno(wire::EWRONGPART);
    /// The host failed; the batch is retried.
    pub const EINTERNAL: Errno = Errno(wire::EINTERNAL);
    /// The path does not fit the data.
    pub const EPATH: Errno = Errno(wire::EPATH);
    /// The value does not fit the schema.
    pub const ESCHEMA: Errno = Errno(wire::ESCHEMA);
    /// `select_one` found several values.
    pub const EMULTI: Errno = Errno(wire::EMULTI);
    /// A query invocation ran past its deadline ([`Ctx::invoke`](crate::Ctx::invoke)).
    pub const ETIMEDOUT: Errno = Errno(wire::ETIMEDOUT);
    /// A query invocation failed; the message says where and why.
    pub const EFAILED: Errno = Errno(wire::EFAILED);

    /// The code's name, such as "EPATH".
    pub fn name(self) -> String {
        wire::errno_name(self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// What kind of error an [`Error`] is; its name is the `kind` of the item's
/// dead letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A plain error ([`Error::new`], or any `std::error::Error` through
    /// `?`): the item is retried.
    Error,
    /// Marked with [`Error::poison`] / [`Error::into_poison`]: the item is
    /// dead-lettered at once.
    Poison,
    /// Marked with [`Error::retryable`] / [`Error::into_retryable`]: the
    /// item is retried, even when the error was deterministic.
    Retry,
    /// A query the host answered with an error ([`Error::code`]). Poison,
    /// unless the host failed (EINTERNAL).
    Query,
    /// The host rejected an effect of the item (a key of another
    /// partition, a value that breaks the schema): it made the item poison
    /// and ignores its later effects.
    Rejected,
    /// A typed stage's input, or a typed read, did not convert. Poison.
    Input,
    /// A host function failed: the whole call fails and the batch is
    /// retried.
    Host,
    /// A panic in a stage.
    Panic,
}

impl ErrorKind {
    /// The name of the kind: error, poison, retry, query, rejected, input,
    /// host or panic.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Error => "error",
            ErrorKind::Poison => "poison",
            ErrorKind::Retry => "retry",
            ErrorKind::Query => "query",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Input => "input",
            ErrorKind::Host => "host",
            ErrorKind::Panic => "panic",
        }
    }
}

/// The error of a stage: it fails the item, whose effects are discarded
/// (its logs are kept).
///
/// An item that fails with a **retryable** error is delivered again later
/// ([`Ctx::attempt`](crate::Ctx::attempt) one higher), up to the host's
/// maximum number of attempts (8 by default), after which it goes to the
/// topology's dead-letter log with the last error. A **poison** error
/// dead-letters it at once: bad input, a bug for this record, anything
/// that would fail the same way again.
///
/// - Plain errors are retryable: `Error::new("...")`, and every
///   `std::error::Error` converts with `?`.
/// - [`Error::poison`], the [`poison!`](crate::poison) macro and
///   [`Error::into_poison`] are poison.
/// - Errors that can never pass are poison by themselves: a path that does
///   not fit the schema ([`ErrorKind::Query`]), an effect the host rejects
///   ([`ErrorKind::Rejected`]), an input that does not convert
///   ([`ErrorKind::Input`]); [`Error::into_retryable`] overrides that.
///
/// ```
/// use squall::{Error, ErrorKind};
/// let e = squall::poison!("record of {:?} has no text", "ann");
/// assert!(e.is_poison());
/// assert_eq!(e.kind(), ErrorKind::Poison);
/// let e: Error = "7x".parse::<i64>().unwrap_err().into(); // any std error
/// assert!(!e.is_poison());
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    poison: bool,
    message: String,
    code: Option<Errno>,
    stack: String,
}

/// `Result<T, squall::Error>`; `squall::Result` alone is the result of a
/// stage.
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

impl Error {
    fn make(kind: ErrorKind, poison: bool, message: String) -> Error {
        Error { inner: Box::new(Inner { kind, poison, message, code: None, stack: String::new() }) }
    }

    /// A plain, retryable error.
    pub fn new(message: impl Into<String>) -> Error {
        Error::make(ErrorKind::Error, false, message.into())
    }

    /// A poison error: the item is dead-lettered at once.
    pub fn poison(message: impl Into<String>) -> Error {
        Error::make(ErrorKind::Poison, true, message.into())
    }

    /// An explicitly retryable error.
    pub fn retryable(message: impl Into<String>) -> Error {
        Error::make(ErrorKind::Retry, false, message.into())
    }

    /// The same error marked poison (kind [`ErrorKind::Poison`]).
    pub fn into_poison(mut self) -> Error {
        self.inner.kind = ErrorKind::Poison;
        self.inner.poison = true;
        self
    }

    /// The same error marked retryable (kind [`ErrorKind::Retry`]).
    pub fn into_retryable(mut self) -> Error {
        self.inner.kind = ErrorKind::Retry;
        self.inner.poison = false;
        self
    }

    pub(crate) fn with_code(kind: ErrorKind, poison: bool, code: Errno, message: String) -> Error {
        let mut e = Error::make(kind, poison, message);
        e.inner.code = Some(code);
        e
    }

    pub(crate) fn input(message: String) -> Error {
        Error::make(ErrorKind::Input, true, message)
    }

    pub(crate) fn host(code: i32) -> Error {
        Error::with_code(
            ErrorKind::Host,
            false,
            Errno(code),
            format!("squall: the host failed the call ({}); the batch will be retried", wire::errno_name(code)),
        )
    }

    /// Whether the error dead-letters its item at once.
    pub fn is_poison(&self) -> bool {
        self.inner.poison
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The ABI error code of a query error or a rejected effect.
    pub fn code(&self) -> Option<Errno> {
        self.inner.code
    }

    pub(crate) fn stack(&self) -> &str {
        &self.inner.stack
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({}{}: {:?})", self.inner.kind.name(), if self.inner.poison { ", poison" } else { "" }, self.inner.message)
    }
}

impl<E: std::error::Error> From<E> for Error {
    /// Any error is a plain, retryable [`Error`] with its message.
    fn from(e: E) -> Error {
        Error::new(e.to_string())
    }
}

/// Marks the error of a `Result` poison or retryable.
///
/// ```
/// use squall::ResultExt;
/// fn parse(s: &str) -> squall::Result<i64> {
///     s.parse::<i64>().poison() // bad input never parses: dead-letter it
/// }
/// assert!(parse("x").unwrap_err().is_poison());
/// ```
pub trait ResultExt<T> {
    /// Makes the error poison.
    fn poison(self) -> Result<T>;
    /// Makes the error retryable.
    fn retryable(self) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn poison(self) -> Result<T> {
        self.map_err(|e| e.into().into_poison())
    }
    fn retryable(self) -> Result<T> {
        self.map_err(|e| e.into().into_retryable())
    }
}

/// A poison [`Error`] with a formatted message: `return
/// Err(squall::poison!("bad record {}", rec))`.
#[macro_export]
macro_rules! poison {
    ($($arg:tt)*) => { $crate::Error::poison(::std::format!($($arg)*)) };
}
