//! `JoinError`: why a task produced no output.

use super::Id;
use std::any::Any;
use std::fmt;

/// A task did not run to completion: it was cancelled (aborted, or dropped by shutdown),
/// or its future panicked.
pub struct JoinError {
    id: Id,
    failure: Failure,
}

/// A `JoinError` without the task id: what a failed task's cell stores in its output slot
/// (the id is in the header already). One word: `None` for a cancellation, the boxed
/// panic otherwise.
pub(crate) struct Failure {
    panic: Option<Box<Panic>>,
}

struct Panic {
    payload: Payload,
    /// The message, when the payload was a `&str` or `String`, copied at creation so
    /// that `Display` never reads the payload through `&self`.
    message: Option<String>,
}

/// The panic payload. It is `Send` but not necessarily `Sync`; it is only ever reached
/// by value (`into_panic`), never through a shared reference.
struct Payload(Box<dyn Any + Send + 'static>);

// SAFETY: no method gives `&` access to the inner value from `&Payload` (only by-value
// `into_panic`), so sharing a `&JoinError` across threads cannot touch it concurrently.
unsafe impl Sync for Payload {}

impl Failure {
    pub(crate) fn cancelled() -> Failure {
        Failure { panic: None }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>) -> Failure {
        let message = payload
            .downcast_ref::<&'static str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        Failure {
            panic: Some(Box::new(Panic {
                payload: Payload(payload),
                message,
            })),
        }
    }

    /// The public error, for the task `id`.
    pub(crate) fn into_error(self, id: Id) -> JoinError {
        JoinError { id, failure: self }
    }
}

impl JoinError {
    /// The error of task `id` whose future panicked with `payload` (for handles that
    /// catch their future's panic themselves: `Handle::scope`).
    pub(crate) fn from_panic(id: Id, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        Failure::panic(payload).into_error(id)
    }

    /// True if the task was cancelled: aborted, or dropped by runtime shutdown.
    pub fn is_cancelled(&self) -> bool {
        self.failure.panic.is_none()
    }

    /// True if the task's future panicked (while polled, or while dropped).
    pub fn is_panic(&self) -> bool {
        self.failure.panic.is_some()
    }

    /// The panic payload, for `std::panic::resume_unwind`.
    ///
    /// # Panics
    /// If the error is not a panic; see [`JoinError::try_into_panic`].
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("`JoinError::into_panic` called on a cancellation")
    }

    /// The panic payload, or the error itself if it is not a panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.failure.panic {
            Some(panic) => Ok(panic.payload.0),
            None => Err(self),
        }
    }

    /// The id of the task that failed.
    pub fn id(&self) -> Id {
        self.id
    }

    fn message(&self) -> Option<&str> {
        self.failure
            .panic
            .as_ref()
            .and_then(|p| p.message.as_deref())
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_panic(), self.message()) {
            (false, _) => write!(f, "task {} was cancelled", self.id),
            (true, Some(m)) => write!(f, "task {} panicked with message {m:?}", self.id),
            (true, None) => write!(f, "task {} panicked", self.id),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_panic(), self.message()) {
            (false, _) => write!(f, "JoinError::Cancelled({:?})", self.id),
            (true, Some(m)) => write!(f, "JoinError::Panic({:?}, {m:?}, ...)", self.id),
            (true, None) => write!(f, "JoinError::Panic({:?}, ...)", self.id),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(err: JoinError) -> std::io::Error {
        std::io::Error::other(err.to_string())
    }
}
