//! Pagination shared by every list operation.

use crate::error::FieldError;

/// The largest page a client may ask for.
pub const MAX_LIMIT: u64 = 1000;
/// The page size when the client names none.
pub const DEFAULT_LIMIT: u64 = 50;

/// A validated window into an ordered list: the rows after the cursor `after` (an id) if there
/// is one, then `skip` of them passed over, then at most `limit`.
///
/// With a cursor the list is in id order, and reaching a page costs the same however far it
/// is: the store seeks to the id where `skip` must walk past every row before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    skip: u64,
    limit: u64,
    after: Option<i64>,
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
            Ok(Self { skip: skip as u64, limit: limit as u64, after: None })
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

    /// This page, starting after the record with id `after` (when there is one).
    pub fn starting_after(self, after: Option<i64>) -> Self {
        Self { after, ..self }
    }

    /// The id the rows must come after, if the page has a cursor.
    pub fn after(&self) -> Option<i64> {
        self.after
    }
}

impl Default for Page {
    fn default() -> Self {
        Self { skip: 0, limit: DEFAULT_LIMIT, after: None }
    }
}

/// One page of results and how many records match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// A record with an id, which a cursor can point at.
pub trait Keyed {
    fn key(&self) -> i64;
}

impl<T: Keyed> Listing<T> {
    /// The cursor of the next page of a list in id order: the last id of this page when the
    /// page is full, `None` when it is the last one. A full last page still gets a cursor,
    /// whose page is empty: knowing it is the last would cost a look past it.
    pub fn next_after(&self, page: Page) -> Option<i64> {
        let full = self.items.len() as u64 >= page.limit();
        self.items.last().filter(|_| full).map(Keyed::key)
    }
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

    impl Keyed for i64 {
        fn key(&self) -> i64 {
            *self
        }
    }

    #[test]
    fn only_a_full_page_has_a_next_cursor() {
        let page = Page::new(None, Some(2)).unwrap().starting_after(Some(7));
        assert_eq!(page.after(), Some(7));
        let full = Listing { items: vec![8_i64, 9], total: 5 };
        assert_eq!(full.next_after(page), Some(9));
        let short = Listing { items: vec![10_i64], total: 5 };
        assert_eq!(short.next_after(page), None);
    }

    #[test]
    fn a_limit_over_the_maximum_is_refused() {
        assert!(Page::new(None, Some(1001)).is_err());
        assert!(Page::new(None, Some(1000)).is_ok());
    }
}
