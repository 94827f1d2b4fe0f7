//! What the domain reads from the outside catalogue's answers, and how one of its movies becomes
//! the input of one of ours.
//!
//! The catalogue's movies reach clients as the catalogue writes them (TMDB's JSON), so that shape
//! is part of the port's contract rather than a detail of the adapter; only the fields an import
//! needs are read here, and every one of them may be missing or null.

use serde::Deserialize;
use serde_json::Value;

use crate::movies::MovieInput;

/// A movie genre of the catalogue: the id its discovery takes, and the name people use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OutsideGenre {
    pub id: i64,
    pub name: String,
}

/// The fields of a catalogue movie (TMDB's movie object) that an import reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct OutsideMovie {
    #[serde(default)]
    pub title: Option<String>,
    /// `YYYY-MM-DD`, or empty when unknown.
    #[serde(default)]
    pub release_date: Option<String>,
    /// Minutes; 0 or absent when unknown.
    #[serde(default)]
    pub runtime: Option<u32>,
    #[serde(default)]
    pub genres: Option<Vec<GenreName>>,
    #[serde(default)]
    pub overview: Option<String>,
}

/// A genre as a catalogue movie lists it; only its name is kept.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GenreName {
    pub name: String,
}

impl OutsideMovie {
    /// Reads the movie out of the catalogue's JSON.
    ///
    /// # Errors
    /// When a field the import reads has the wrong type (a numeric title, a text runtime).
    pub fn from_json(json: &Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(json)
    }
}

/// A catalogue movie as the input of one of ours: name from `title`, year from `release_date`,
/// duration from `runtime`, genre from `genres` joined with `, `, description from `overview`.
/// Nothing is checked here: the movie rules do that, as for any other input.
impl From<OutsideMovie> for MovieInput {
    fn from(m: OutsideMovie) -> Self {
        let genres = m.genres.unwrap_or_default();
        MovieInput {
            name: m.title,
            year: m.release_date.as_deref().and_then(year_of),
            duration: Some(runtime_text(m.runtime)),
            genre: Some(genres.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ")),
            description: Some(m.overview.unwrap_or_default()),
        }
    }
}

/// The year of a `YYYY-MM-DD` date; `None` when the date is empty or does not start with a year.
fn year_of(date: &str) -> Option<i64> {
    let year = date.get(..4).filter(|y| y.bytes().all(|b| b.is_ascii_digit()))?;
    year.parse().ok()
}

/// Minutes as `1h 47m`; empty when unknown (absent or 0).
pub fn runtime_text(minutes: Option<u32>) -> String {
    match minutes {
        None | Some(0) => String::new(),
        Some(m) => format!("{}h {}m", m / 60, m % 60),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_catalogue_movie_maps_field_by_field() {
        let movie = OutsideMovie::from_json(&json!({
            "id": 348, "title": "Alien", "release_date": "1979-05-25", "runtime": 117,
            "genres": [{ "id": 27, "name": "Horror" }, { "id": 878, "name": "Science Fiction" }],
            "overview": "In space no one can hear you scream.", "popularity": 40.1
        }))
        .unwrap();
        let input = MovieInput::from(movie);
        assert_eq!(
            input,
            MovieInput {
                name: Some("Alien".into()),
                year: Some(1979),
                duration: Some("1h 57m".into()),
                genre: Some("Horror, Science Fiction".into()),
                description: Some("In space no one can hear you scream.".into()),
            }
        );
    }

    #[test]
    fn missing_and_null_fields_become_missing_or_empty_input() {
        let movie = OutsideMovie::from_json(&json!({
            "id": 1, "release_date": "", "runtime": null, "genres": null, "overview": null
        }))
        .unwrap();
        let input = MovieInput::from(movie);
        assert_eq!(input.name, None);
        assert_eq!(input.year, None);
        assert_eq!(input.duration.as_deref(), Some(""));
        assert_eq!(input.genre.as_deref(), Some(""));
        assert_eq!(input.description.as_deref(), Some(""));
    }

    #[test]
    fn runtimes_read_as_hours_and_minutes() {
        assert_eq!(runtime_text(Some(107)), "1h 47m");
        assert_eq!(runtime_text(Some(45)), "0h 45m");
        assert_eq!(runtime_text(Some(120)), "2h 0m");
        assert_eq!(runtime_text(Some(0)), "");
        assert_eq!(runtime_text(None), "");
    }

    #[test]
    fn only_a_date_that_starts_with_four_digits_has_a_year() {
        assert_eq!(year_of("1979-05-25"), Some(1979));
        assert_eq!(year_of("1979"), Some(1979));
        assert_eq!(year_of(""), None);
        assert_eq!(year_of("79-05"), None);
        assert_eq!(year_of("+197-05-25"), None);
        assert_eq!(year_of("19é9"), None);
    }

    #[test]
    fn a_field_of_the_wrong_type_is_an_error() {
        assert!(OutsideMovie::from_json(&json!({ "title": 42 })).is_err());
        assert!(OutsideMovie::from_json(&json!("Alien")).is_err());
    }
}
