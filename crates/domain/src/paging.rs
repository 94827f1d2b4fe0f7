//! Pagination shared by every list operation.

use crate::error::FieldError;

/// The largest page a client may ask for.
pub const MAX_LIMIT: u64 = 1000;
/// The page size when the client names none.
pub const DEFAULT_LIMIT: u64 = 50;

/// A validated window into an ordered list: `skip` rows, then at most `limit` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    skip: u64,
    limit: u64,
}

impl Page {
    /// `skip` must be at least 0 and `limit` between 1 and [`MAX_LIMIT`]; a missing one takes
    /// its default (0 and [`DEFAULT_LIMIT`]). Both errors are reported at once.
    ///
    /// ```
    /// use movies_domain::Page;
    ///
    /// let page = Page::new(Some(100), None).unwrap();
    /// assert_eq!((page.skip(), page.limit()), (100, 50));
    ///
    /// let errors = Page::new(Some(-1), Some(5000)).unwrap_err();
    /// let kinds: Vec<&str> = errors.iter().map(|e| e.kind).collect();
    /// assert_eq!(kinds, ["greater_than_equal", "less_than_equal"]);
    /// ```
    pub fn new(skip: Option<i64>, limit: Option<i64>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let skip = skip.unwrap_or(0);
        let limit = limit.unwrap_or(DEFAULT_LIMIT as i64);
        if skip < 0 {
            errors.push(FieldError::new(
                "skip",
                "greater_than_equal",
                "Input should be greater than or equal to 0",
            ));
        }
        if !(1..=MAX_LIMIT as i64).contains(&limit) {
            errors.push(FieldError::new(
                "limit",
                "less_than_equal",
                format!("Input should be between 1 and {MAX_LIMIT}"),
            ));
        }
        if errors.is_empty() {
            Ok(Self { skip: skip as u64, limit: limit as u64 })
        } else {
            Err(errors)
        }
    }

    pub fn skip(&self) -> u64 {
        self.skip
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }
}

impl Default for Page {
    fn default() -> Self {
        Self { skip: 0, limit: DEFAULT_LIMIT }
    }
}

/// One page of results and how many records match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_defaults_to_the_first_fifty() {
        let page = Page::new(None, None).unwrap();
        assert_eq!((page.skip(), page.limit()), (0, 50));
    }

    #[test]
    fn a_negative_skip_and_a_zero_limit_are_both_reported() {
        let errors = Page::new(Some(-1), Some(0)).unwrap_err();
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn a_limit_over_the_maximum_is_refused() {
        assert!(Page::new(None, Some(1001)).is_err());
        assert!(Page::new(None, Some(1000)).is_ok());
    }
}
