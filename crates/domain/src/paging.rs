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

/// How a table's ids lie: how many records it holds and its lowest and highest id (`None` when
/// it is empty). What a cache needs to find a page without asking the store which ids it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdSpan {
    pub count: u64,
    pub bounds: Option<(i64, i64)>,
}

impl IdSpan {
    /// The ids of the page `page` of the whole table in id order, as a range: known without the
    /// store when the table has no gap in its ids (its count is its span), `None` otherwise.
    /// Empty when the page lies past the last record.
    ///
    /// ```
    /// use movies_domain::{paging::IdSpan, Page};
    ///
    /// let span = IdSpan { count: 100, bounds: Some((11, 110)) };
    /// let page = Page::new(Some(20), Some(50)).unwrap();
    /// assert_eq!(span.page_ids(page), Some(31..=80));
    /// assert_eq!(span.page_ids(page.starting_after(Some(90))), Some(111..=110));
    /// let gap = IdSpan { count: 99, bounds: Some((11, 110)) };
    /// assert_eq!(gap.page_ids(page), None);
    /// ```
    pub fn page_ids(&self, page: Page) -> Option<std::ops::RangeInclusive<i64>> {
        let (first, last) = match self.bounds {
            Some(bounds) => bounds,
            None if self.count == 0 => return Some(std::ops::RangeInclusive::new(1, 0)),
            None => return None,
        };
        if u64::try_from(last.checked_sub(first)?).ok()?.checked_add(1)? != self.count {
            return None;
        }
        let from = match page.after() {
            Some(after) => after.checked_add(1)?.max(first),
            None => first,
        };
        let start = from.checked_add(i64::try_from(page.skip()).ok()?)?;
        let end = start.checked_add(i64::try_from(page.limit()).ok()? - 1)?.min(last);
        Some(start..=end)
    }
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
    fn a_span_finds_pages_only_without_gaps_and_never_past_its_end() {
        let page =
            |skip, limit, after| Page::new(Some(skip), Some(limit)).unwrap().starting_after(after);
        let span = IdSpan { count: 10, bounds: Some((1, 10)) };
        assert_eq!(span.page_ids(page(0, 50, None)), Some(1..=10));
        assert_eq!(span.page_ids(page(9, 50, None)), Some(10..=10));
        assert!(span.page_ids(page(10, 50, None)).is_some_and(|r| r.is_empty()));
        assert!(span.page_ids(page(i64::MAX, 50, None)).is_none_or(|r| r.is_empty()));
        assert_eq!(span.page_ids(page(2, 3, Some(-5))), Some(3..=5));
        assert_eq!(span.page_ids(page(1, 3, Some(4))), Some(6..=8));
        assert!(span.page_ids(page(0, 3, Some(i64::MAX))).is_none_or(|r| r.is_empty()));
        assert!(span.page_ids(page(0, 3, Some(10))).is_some_and(|r| r.is_empty()));
        let empty = IdSpan { count: 0, bounds: None };
        assert!(empty.page_ids(page(0, 50, None)).is_some_and(|r| r.is_empty()));
        assert_eq!(IdSpan { count: 9, bounds: Some((1, 10)) }.page_ids(page(0, 5, None)), None);
        assert_eq!(IdSpan { count: 3, bounds: None }.page_ids(page(0, 5, None)), None);
    }

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
