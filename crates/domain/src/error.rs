//! The one error type of the domain: what went wrong, in terms a client can act on.

use std::fmt;

use serde::Serialize;

/// The kinds of record the domain stores; names the record in "not found" errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RecordKind {
    Movie,
    Character,
    User,
    Job,
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordKind::Movie => "Movie",
            RecordKind::Character => "Character",
            RecordKind::User => "User",
            RecordKind::Job => "Job",
        })
    }
}

/// One step of the path to an invalid value: a field name or an index into an array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Loc {
    Field(&'static str),
    Index(usize),
}

/// Why one input value was refused, and where it sits in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path to the value, relative to the input (the adapter says whether it was a body or a query).
    pub loc: Vec<Loc>,
    /// A sentence for people.
    pub msg: String,
    /// A stable machine-readable kind, as FastAPI names them (`missing`, `string_too_long`, ...).
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl FieldError {
    pub fn new(field: &'static str, kind: &'static str, msg: impl Into<String>) -> Self {
        Self { loc: vec![Loc::Field(field)], msg: msg.into(), kind }
    }

    /// An error about the input as a whole (no field), e.g. a bulk request that is too long.
    pub fn whole(kind: &'static str, msg: impl Into<String>) -> Self {
        Self { loc: Vec::new(), msg: msg.into(), kind }
    }

    /// The missing-field error, worded as FastAPI words it.
    pub fn missing(field: &'static str) -> Self {
        Self::new(field, "missing", "Field required")
    }

    /// Moves this error under `index` of an array (bulk requests name the offending item).
    pub fn at_index(mut self, index: usize) -> Self {
        self.loc.insert(0, Loc::Index(index));
        self
    }
}

/// Everything a domain operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record does not exist.
    #[error("{0} not found")]
    NotFound(RecordKind),
    /// Another record already has this name, and names are unique.
    #[error("a {entity} named {name:?} already exists")]
    DuplicateName { entity: RecordKind, name: String },
    /// No valid credentials: a missing, expired, altered or revoked token, or a wrong password.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Authenticated, but the role or ownership does not allow the action.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The input breaks a rule; every broken rule is listed.
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    /// The caller has used up a quota (e.g. its active jobs); it may try again later.
    #[error("{0}")]
    LimitReached(String),
    /// This kind of work already has as much queued as the server takes (password hashing, for
    /// one): refused at once rather than queued. Transient, and not the store's fault; the reason
    /// is for the client.
    #[error("{0}")]
    Overloaded(&'static str),
    /// The store could not do its work for now: down, unreachable, busy, out of connections or
    /// too slow. Transient: the same request may succeed later. The source says why.
    #[error("storage unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A bug or a broken invariant: a stored row the code cannot read, a state that should not
    /// exist, a query the store refused for a reason the code did not expect. Not the client's
    /// fault, and not transient: the same request will fail again. The source says why.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The outside movie catalogue (TMDB) could not give what was asked; the variant says why.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

/// What an outside catalogue holds and can fail to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutsideItem {
    Movie,
    Genre,
}

impl fmt::Display for OutsideItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutsideItem::Movie => "Movie",
            OutsideItem::Genre => "Genre",
        })
    }
}

/// Why the outside movie catalogue did not answer with what was asked.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No credentials were configured, so the catalogue is never called.
    #[error("the outside catalogue is not configured")]
    NotConfigured,
    /// The catalogue has no such movie, or no genre of that name.
    #[error("{0} not found in the outside catalogue")]
    NotFound(OutsideItem),
    /// The catalogue refuses more calls for now; it may say after how many seconds to retry.
    #[error("the outside catalogue is rate-limiting us")]
    RateLimited { retry_after_secs: Option<u64> },
    /// The catalogue is down, failed, was too slow, or answered something unreadable; the source
    /// says which (and never holds a credential).
    #[error("the outside catalogue failed")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl UpstreamError {
    /// Wraps any adapter error that is not one of the cases a client can act on.
    pub fn failed(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        UpstreamError::Failed(source.into())
    }
}

impl Error {
    /// Wraps an adapter error that means the store is down or busy for now (see
    /// [`Error::Unavailable`]).
    pub fn unavailable(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Unavailable(source.into())
    }

    /// Wraps the cause of a bug or broken invariant (see [`Error::Internal`]).
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Internal(source.into())
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error::Invalid(vec![e])
    }
}

impl From<Vec<FieldError>> for Error {
    fn from(e: Vec<FieldError>) -> Self {
        Error::Invalid(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
