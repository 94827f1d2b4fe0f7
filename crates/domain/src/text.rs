//! Value types shared by movies and characters: names, bounded free text and years. Each checks
//! its rule in `new`, so a value that exists is valid.

use std::fmt;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::error::FieldError;

/// The longest name, in characters, after trimming.
pub const MAX_NAME_CHARS: usize = 200;

/// A record's name: trimmed, in Unicode NFC form (so that names that look the same, however
/// their accents were typed, are the same name), 1 to [`MAX_NAME_CHARS`] characters, with no
/// control, bidirectional-formatting or zero-width character (see [`is_hidden`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

impl Name {
    /// `field` names the input field in the error.
    ///
    /// ```
    /// use movies_domain::Loc;
    /// use movies_domain::text::Name;
    ///
    /// assert_eq!(Name::new("name", "  Alien ").unwrap().as_str(), "Alien");
    ///
    /// let blank = Name::new("name", "   ").unwrap_err();
    /// assert_eq!(blank.loc, [Loc::Field("name")]);
    /// assert_eq!(blank.kind, "string_too_short");
    /// ```
    pub fn new(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(FieldError::new(
                field,
                "string_too_short",
                "String should have at least 1 character",
            ));
        }
        if trimmed.chars().any(is_hidden) {
            return Err(FieldError::new(
                field,
                "string_pattern_mismatch",
                "String should not contain control, bidirectional-formatting or zero-width \
                 characters",
            ));
        }
        let name = nfc(trimmed);
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(too_long(field, MAX_NAME_CHARS));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Free text of at most `MAX` characters (empty allowed), kept as sent; of the control
/// characters only line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    /// `field` names the input field in the error.
    ///
    /// ```
    /// use movies_domain::text::Genre;
    ///
    /// assert_eq!(Genre::new("genre", "Horror".into()).unwrap().as_str(), "Horror");
    /// assert!(Genre::new("genre", String::new()).is_ok());
    /// assert_eq!(Genre::new("genre", "g".repeat(101)).unwrap_err().kind, "string_too_long");
    /// ```
    pub fn new(field: &'static str, raw: String) -> Result<Self, FieldError> {
        if raw.chars().count() > MAX {
            return Err(too_long(field, MAX));
        }
        if raw.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(FieldError::new(
                field,
                "string_pattern_mismatch",
                "String should not contain control characters other than line breaks and tabs",
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A movie's running time as people write it ("2h 10m").
pub type Duration = Text<50>;
/// A genre ("Drama").
pub type Genre = Text<100>;
/// A description of a movie or a character.
pub type Description = Text<5000>;

/// A release year: from 1878 (the first motion picture) to 2100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Year(i32);

impl Year {
    pub const MIN: i32 = 1878;
    pub const MAX: i32 = 2100;

    /// `field` names the input field in the error.
    ///
    /// ```
    /// use movies_domain::text::Year;
    ///
    /// assert_eq!(Year::new("year", 1979).unwrap().get(), 1979);
    ///
    /// let too_early = Year::new("year", 1877).unwrap_err();
    /// assert_eq!(too_early.msg, "Year must be between 1878 and 2100");
    /// ```
    pub fn new(field: &'static str, raw: i64) -> Result<Self, FieldError> {
        if raw < i64::from(Self::MIN) || raw > i64::from(Self::MAX) {
            return Err(FieldError::new(
                field,
                "value_error",
                format!("Year must be between {} and {}", Self::MIN, Self::MAX),
            ));
        }
        Ok(Self(raw as i32))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// `text` in Unicode NFC form, as names are stored: what a name is looked up or searched by.
/// Most names are in NFC already (ASCII, precomposed accents): the quick check tells so without
/// composing them again, which was 3-4% of the CPU of a bulk insert or a generation.
pub fn nfc(text: &str) -> String {
    match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => text.to_owned(),
        IsNormalized::No | IsNormalized::Maybe => text.nfc().collect(),
    }
}

/// Whether `c` has no business in a name: a control character (NUL included), a
/// bidirectional formatting character (the embeddings and overrides U+202A-U+202E, the isolates
/// U+2066-U+2069, the marks U+200E, U+200F and U+061C, which can make a name display as another)
/// or a zero-width one (U+200B-U+200D, U+2060-U+2064, U+180E, U+FEFF, which make two names that
/// look the same differ).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{FEFF}'
        )
}

fn too_long(field: &'static str, max: usize) -> FieldError {
    FieldError::new(
        field,
        "string_too_long",
        format!("String should have at most {max} characters"),
    )
}

/// Collects the errors of several independent checks, so a client learns of all of them at once.
#[derive(Default)]
pub(crate) struct Checks(Vec<FieldError>);

impl Checks {
    /// Keeps the value if valid, records the error otherwise.
    pub(crate) fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    /// Requires a value that may be missing, then checks it.
    pub(crate) fn required<R, T>(
        &mut self,
        field: &'static str,
        raw: Option<R>,
        parse: impl FnOnce(&'static str, R) -> Result<T, FieldError>,
    ) -> Option<T> {
        match raw {
            Some(raw) => self.check(parse(field, raw)),
            None => {
                self.0.push(FieldError::missing(field));
                None
            }
        }
    }

    pub(crate) fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// The errors found; not empty whenever a check above returned `None`.
    pub(crate) fn into_errors(self) -> Vec<FieldError> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed() {
        assert_eq!(Name::new("name", "  Alien ").unwrap().as_str(), "Alien");
    }

    #[test]
    fn a_blank_name_is_refused() {
        assert_eq!(Name::new("name", "   ").unwrap_err().kind, "string_too_short");
    }

    #[test]
    fn a_name_counts_characters_not_bytes() {
        assert!(Name::new("name", &"é".repeat(200)).is_ok());
        assert!(Name::new("name", &"é".repeat(201)).is_err());
    }

    #[test]
    fn a_name_refuses_what_cannot_be_seen_and_is_kept_in_nfc() {
        for hidden in
            ["a\0b", "a\u{7}b", "a\nb", "evil\u{202E}txt", "a\u{2066}b", "a\u{200B}b", "\u{FEFF}a"]
        {
            let e = Name::new("name", hidden).unwrap_err();
            assert_eq!(e.kind, "string_pattern_mismatch", "{hidden:?}");
            assert_eq!(e.loc, [crate::Loc::Field("name")], "{hidden:?}");
        }
        let decomposed = Name::new("name", "Ame\u{301}lie").unwrap();
        assert_eq!(decomposed, Name::new("name", "Am\u{e9}lie").unwrap());
        assert_eq!(decomposed.as_str(), "Am\u{e9}lie");
        assert!(Name::new("name", "Léon: the Professional — 東京 عربى").is_ok());
    }

    #[test]
    fn nfc_composes_what_needs_it_and_keeps_the_rest() {
        assert_eq!(nfc("Alien"), "Alien");
        assert_eq!(nfc("Am\u{e9}lie \u{6771}\u{4eac}"), "Am\u{e9}lie \u{6771}\u{4eac}");
        // The quick check says "maybe" for a combining mark, "no" for a singleton.
        assert_eq!(nfc("Ame\u{301}lie"), "Am\u{e9}lie");
        assert_eq!(nfc("\u{212b}ngstr\u{f6}m"), "\u{c5}ngstr\u{f6}m");
        assert_eq!(nfc("\u{1100}\u{1161}"), "\u{ac00}");
    }

    #[test]
    fn text_keeps_line_breaks_and_tabs_but_no_other_control_character() {
        assert!(Description::new("description", "one\r\ntwo\tthree".into()).is_ok());
        assert!(Description::new("description", "right\u{202E}to left".into()).is_ok());
        for bad in ["nul\0", "bell\u{7}", "esc\u{1b}[31m", "c1\u{85}"] {
            let e = Description::new("description", bad.into()).unwrap_err();
            assert_eq!(e.kind, "string_pattern_mismatch", "{bad:?}");
        }
    }

    #[test]
    fn text_over_its_bound_is_refused() {
        assert!(Duration::new("duration", "x".repeat(50)).is_ok());
        assert_eq!(Duration::new("duration", "x".repeat(51)).unwrap_err().loc.len(), 1);
    }

    #[test]
    fn years_outside_cinema_history_are_refused() {
        assert!(Year::new("year", 1877).is_err());
        assert!(Year::new("year", 1878).is_ok());
        assert!(Year::new("year", 2100).is_ok());
        assert!(Year::new("year", i64::MAX).is_err());
    }
}
