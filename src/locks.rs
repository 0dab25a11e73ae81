//! The one way pixpipe takes the locks its workers share.

use std::sync::{Mutex, MutexGuard};

/// Lock `m`, taking the data of a lock a panicking worker poisoned: every update under
/// pixpipe's locks is one insert, push or swap, so the data is whole even then (and a
/// panic is reported where it happened, not again by each worker after it).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
