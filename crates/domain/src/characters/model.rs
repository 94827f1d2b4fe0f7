//! The character entity and the input that creates or replaces one.

use serde::Serialize;

use crate::error::FieldError;
use crate::text::{Checks, Description, Name};

/// A stored character, with the name of the movie it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Character {
    pub id: i64,
    pub name: String,
    pub movie_id: i64,
    pub movie_name: String,
    pub description: String,
    /// The user who created the character, if known.
    pub editor_id: Option<i64>,
}

impl crate::paging::Keyed for Character {
    fn key(&self) -> i64 {
        self.id
    }
}

/// A character as a client sends it, before any check. The movie is named by id or by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CharacterInput {
    pub name: Option<String>,
    pub movie_id: Option<i64>,
    pub movie_name: Option<String>,
    pub description: Option<String>,
}

/// How a client names the movie a character belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MovieRef {
    Id(i64),
    Name(String),
    /// Both given: they must name the same movie.
    Both(i64, String),
}

/// A valid character whose movie is not looked up yet.
///
/// Made from a [`CharacterInput`] with `try_from`, which reports every broken rule at once:
///
/// ```
/// use movies_domain::characters::{CharacterInput, MovieRef, NewCharacter};
///
/// let ripley = NewCharacter::try_from(CharacterInput {
///     name: Some("Ripley".into()),
///     movie_name: Some(" Alien ".into()),
///     ..Default::default()
/// })
/// .unwrap();
/// assert_eq!(ripley.movie, MovieRef::Name("Alien".into()));
///
/// let errors = NewCharacter::try_from(CharacterInput::default()).unwrap_err();
/// let kinds: Vec<&str> = errors.iter().map(|e| e.kind).collect();
/// assert_eq!(kinds, ["missing", "missing"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCharacter {
    pub name: Name,
    pub movie: MovieRef,
    pub description: Description,
}

impl TryFrom<CharacterInput> for NewCharacter {
    type Error = Vec<FieldError>;

    fn try_from(input: CharacterInput) -> Result<Self, Self::Error> {
        let mut checks = Checks::default();
        let name = checks.required("name", input.name, |f, raw: String| Name::new(f, &raw));
        let movie_name = input.movie_name.map(|n| crate::text::nfc(n.trim()));
        let movie = match (input.movie_id, movie_name) {
            (Some(id), Some(name)) => Some(MovieRef::Both(id, name)),
            (Some(id), None) => Some(MovieRef::Id(id)),
            (None, Some(name)) => Some(MovieRef::Name(name)),
            (None, None) => {
                checks.push(FieldError::missing("movieName"));
                None
            }
        };
        let description =
            checks.check(Description::new("description", input.description.unwrap_or_default()));
        match (name, movie, description) {
            (Some(name), Some(movie), Some(description)) => {
                Ok(NewCharacter { name, movie, description })
            }
            _ => Err(checks.into_errors()),
        }
    }
}

/// A valid character with its movie resolved to an id: what a repository stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharacterRecord {
    pub name: String,
    pub movie_id: i64,
    pub description: String,
}

/// Which characters a list returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CharacterFilter {
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    /// Exact name of the movie.
    pub movie_name: Option<String>,
    /// Id of the movie.
    pub movie_id: Option<i64>,
    /// The user who created the characters.
    pub editor_id: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_names_its_movie_by_name_or_id() {
        let by_name = NewCharacter::try_from(CharacterInput {
            name: Some("Ripley".into()),
            movie_name: Some(" Alien ".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(by_name.movie, MovieRef::Name("Alien".into()));
        let by_id = NewCharacter::try_from(CharacterInput {
            name: Some("Ripley".into()),
            movie_id: Some(3),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(by_id.movie, MovieRef::Id(3));
    }

    #[test]
    fn a_character_without_a_movie_is_refused() {
        let errors = NewCharacter::try_from(CharacterInput {
            name: Some("Ripley".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(errors[0].kind, "missing");
    }
}
