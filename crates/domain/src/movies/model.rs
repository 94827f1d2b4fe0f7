//! The movie entity and the input that creates or replaces one.

use serde::Serialize;

use crate::error::FieldError;
use crate::text::{Checks, Description, Duration, Genre, Name, Year};

/// A stored movie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Movie {
    pub id: i64,
    pub name: String,
    pub year: i32,
    pub duration: String,
    pub genre: String,
    pub description: String,
    /// How many characters belong to this movie; kept true by the repository on every write.
    pub nr_characters: i64,
    /// The user who created the movie, if known.
    pub editor_id: Option<i64>,
}

impl crate::paging::Keyed for Movie {
    fn key(&self) -> i64 {
        self.id
    }
}

/// A movie as a client sends it, before any check. Missing fields are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MovieInput {
    pub name: Option<String>,
    pub year: Option<i64>,
    pub duration: Option<String>,
    pub genre: Option<String>,
    pub description: Option<String>,
}

/// A valid movie to store: `name` and `year` are required, the rest default to empty text.
///
/// Made from a [`MovieInput`] with `try_from`, which reports every broken rule at once:
///
/// ```
/// use movies_domain::Loc;
/// use movies_domain::movies::{MovieInput, NewMovie};
///
/// let input = MovieInput { name: Some(" Alien ".into()), year: Some(1979), ..Default::default() };
/// let movie = NewMovie::try_from(input).unwrap();
/// assert_eq!((movie.name.as_str(), movie.year.get(), movie.genre.as_str()), ("Alien", 1979, ""));
///
/// let errors = NewMovie::try_from(MovieInput {
///     year: Some(3000),
///     genre: Some("g".repeat(101)),
///     ..Default::default()
/// })
/// .unwrap_err();
/// let fields: Vec<&Loc> = errors.iter().flat_map(|e| &e.loc).collect();
/// assert_eq!(fields, [&Loc::Field("name"), &Loc::Field("year"), &Loc::Field("genre")]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMovie {
    pub name: Name,
    pub year: Year,
    pub duration: Duration,
    pub genre: Genre,
    pub description: Description,
}

impl NewMovie {
    /// The movie as a store keeps it once given `id`: no characters yet.
    pub fn stored(&self, id: i64, editor_id: Option<i64>) -> Movie {
        Movie {
            id,
            name: self.name.to_string(),
            year: self.year.get(),
            duration: self.duration.as_str().to_owned(),
            genre: self.genre.as_str().to_owned(),
            description: self.description.as_str().to_owned(),
            nr_characters: 0,
            editor_id,
        }
    }
}

impl TryFrom<MovieInput> for NewMovie {
    type Error = Vec<FieldError>;

    fn try_from(input: MovieInput) -> Result<Self, Self::Error> {
        let mut checks = Checks::default();
        let name = checks.required("name", input.name, |f, raw: String| Name::new(f, &raw));
        let year = checks.required("year", input.year, Year::new);
        let duration = checks.check(Duration::new("duration", input.duration.unwrap_or_default()));
        let genre = checks.check(Genre::new("genre", input.genre.unwrap_or_default()));
        let description =
            checks.check(Description::new("description", input.description.unwrap_or_default()));
        match (name, year, duration, genre, description) {
            (Some(name), Some(year), Some(duration), Some(genre), Some(description)) => {
                Ok(NewMovie { name, year, duration, genre, description })
            }
            _ => Err(checks.into_errors()),
        }
    }
}

/// Which movies a list returns; every field narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MovieFilter {
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    /// Exact genre.
    pub genre: Option<String>,
    pub year: Option<i32>,
    pub year_from: Option<i32>,
    pub year_to: Option<i32>,
    /// The user who created the movies.
    pub editor_id: Option<i64>,
    pub sort: MovieSort,
}

/// The column a movie list is ordered by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortKey {
    #[default]
    Id,
    Name,
    Year,
}

/// The order of a movie list: a key, ascending unless `descending`; ties go by id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MovieSort {
    pub key: SortKey,
    pub descending: bool,
}

impl MovieSort {
    /// Parses `id`, `name`, `year`, each optionally preceded by `-` for descending order.
    ///
    /// ```
    /// use movies_domain::movies::{MovieSort, SortKey};
    ///
    /// let by_year = MovieSort::parse("-year").unwrap();
    /// assert_eq!(by_year, MovieSort { key: SortKey::Year, descending: true });
    /// assert!(!MovieSort::parse("name").unwrap().descending);
    /// assert_eq!(MovieSort::parse("rating").unwrap_err().kind, "enum");
    /// ```
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let (descending, key) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let key = match key {
            "id" => SortKey::Id,
            "name" => SortKey::Name,
            "year" => SortKey::Year,
            _ => {
                return Err(FieldError::new(
                    "sort",
                    "enum",
                    "Input should be 'id', 'name' or 'year', optionally preceded by '-'",
                ));
            }
        };
        Ok(Self { key, descending })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Loc;

    fn input() -> MovieInput {
        MovieInput {
            name: Some(" Alien ".into()),
            year: Some(1979),
            duration: Some("1h 57m".into()),
            genre: Some("Horror".into()),
            description: Some("In space no one can hear you scream.".into()),
        }
    }

    #[test]
    fn a_complete_input_becomes_a_new_movie() {
        let movie = NewMovie::try_from(input()).unwrap();
        assert_eq!(movie.name.as_str(), "Alien");
        assert_eq!(movie.year.get(), 1979);
    }

    #[test]
    fn only_name_and_year_are_required() {
        let movie = NewMovie::try_from(MovieInput {
            name: Some("Alien".into()),
            year: Some(1979),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(movie.genre.as_str(), "");
    }

    #[test]
    fn every_broken_rule_is_reported_with_its_field() {
        let errors = NewMovie::try_from(MovieInput {
            name: None,
            year: Some(3000),
            genre: Some("g".repeat(101)),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.loc.clone()).collect();
        assert_eq!(
            fields,
            vec![vec![Loc::Field("name")], vec![Loc::Field("year")], vec![Loc::Field("genre")]]
        );
        assert_eq!(errors[0].kind, "missing");
    }

    #[test]
    fn sort_keys_parse_with_an_optional_minus() {
        assert_eq!(
            MovieSort::parse("-year").unwrap(),
            MovieSort { key: SortKey::Year, descending: true }
        );
        assert_eq!(MovieSort::parse("name").unwrap().key, SortKey::Name);
        assert!(MovieSort::parse("rating").is_err());
    }
}
