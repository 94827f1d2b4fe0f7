//! Rules shared by the bulk operations of every resource: size bounds, all-or-nothing
//! validation, id ranges.

use std::collections::HashSet;

use crate::error::{Error, FieldError, Result};

/// The most items one bulk request may carry.
pub const MAX_BULK_ITEMS: usize = 10_000;
/// The widest id range one bulk delete may cover.
pub const MAX_DELETE_RANGE: i64 = 100_000;

/// The outcome of a range delete: the ids deleted and the ids of the range that did not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedRange {
    pub deleted: Vec<i64>,
    pub not_found: Vec<i64>,
}

/// Refuses a bulk request with more than [`MAX_BULK_ITEMS`] items.
pub(crate) fn check_bulk_size(len: usize) -> Result<()> {
    if len > MAX_BULK_ITEMS {
        return Err(FieldError::whole(
            "too_long",
            format!("A bulk request carries at most {MAX_BULK_ITEMS} items, not {len}"),
        )
        .into());
    }
    Ok(())
}

/// Converts every input, or returns the errors of all bad ones, each under its index.
pub(crate) fn validate_all<I, T>(
    inputs: Vec<I>,
    convert: impl Fn(I) -> Result<T, Vec<FieldError>>,
) -> Result<Vec<T>> {
    let mut valid = Vec::with_capacity(inputs.len());
    let mut errors = Vec::new();
    for (index, input) in inputs.into_iter().enumerate() {
        match convert(input) {
            Ok(item) => valid.push(item),
            Err(e) => errors.extend(e.into_iter().map(|e| e.at_index(index))),
        }
    }
    if errors.is_empty() { Ok(valid) } else { Err(Error::Invalid(errors)) }
}

/// Refuses an empty, reversed or too wide `[start, end)` range.
pub(crate) fn check_range(start: i64, end: i64) -> Result<()> {
    if end <= start {
        return Err(FieldError::new(
            "end_id",
            "greater_than",
            "end_id must be greater than start_id",
        )
        .into());
    }
    if end.saturating_sub(start) > MAX_DELETE_RANGE {
        return Err(FieldError::new(
            "end_id",
            "value_error",
            format!("A range covers at most {MAX_DELETE_RANGE} ids"),
        )
        .into());
    }
    Ok(())
}

/// The ids of `[start, end)` that are not in `deleted`.
pub(crate) fn missing_from_range(start: i64, end: i64, deleted: &[i64]) -> Vec<i64> {
    let deleted: HashSet<i64> = deleted.iter().copied().collect();
    (start..end).filter(|id| !deleted.contains(id)).collect()
}
