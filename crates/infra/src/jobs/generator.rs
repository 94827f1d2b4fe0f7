//! `RowGenerator` with the `fake` crate: realistic movies (titles, years 1900-2030, durations
//! like "1h 47m", real genres, descriptions) and characters (names, descriptions).

use fake::Fake;
use fake::faker::company::en::{Buzzword, BuzzwordTail};
use fake::faker::lorem::en::Sentence;
use fake::faker::name::en::Name;
use movies_domain::characters::CharacterRecord;
use movies_domain::jobs::RowGenerator;
use movies_domain::movies::{MovieInput, NewMovie};
use rand::Rng;

const GENRES: [&str; 16] = [
    "Action",
    "Adventure",
    "Animation",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Family",
    "Fantasy",
    "History",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Science Fiction",
    "Thriller",
];

fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Fake rows for generation jobs.
#[derive(Clone, Copy, Debug, Default)]
pub struct FakeRows;

impl RowGenerator for FakeRows {
    fn movies(&self, n: usize) -> Vec<NewMovie> {
        fake_movies(n)
    }

    fn characters(&self, n: usize, movie_ids: &[i64]) -> Vec<CharacterRecord> {
        fake_characters(n, movie_ids)
    }
}

/// `n` valid movies. Titles repeat now and then; the job gives repeats a unique suffix.
fn fake_movies(n: usize) -> Vec<NewMovie> {
    let mut rng = rand::rng();
    (0..n)
        .filter_map(|_| {
            let buzz: String = Buzzword().fake();
            let tail: String = BuzzwordTail().fake();
            let input = MovieInput {
                name: Some(format!("The {} {}", title_case(&buzz), title_case(&tail))),
                year: Some(rng.random_range(1900..=2030)),
                duration: Some(format!(
                    "{}h {}m",
                    rng.random_range(1..=3),
                    rng.random_range(0..60)
                )),
                genre: Some(GENRES[rng.random_range(0..GENRES.len())].to_owned()),
                description: Some(Sentence(8..20).fake()),
            };
            NewMovie::try_from(input).ok()
        })
        .collect()
}

/// `n` characters, each in a movie picked at random from `movie_ids` (none when it is empty).
fn fake_characters(n: usize, movie_ids: &[i64]) -> Vec<CharacterRecord> {
    if movie_ids.is_empty() {
        return Vec::new();
    }
    let mut rng = rand::rng();
    (0..n)
        .map(|_| CharacterRecord {
            name: Name().fake(),
            movie_id: movie_ids[rng.random_range(0..movie_ids.len())],
            description: Sentence(5..12).fake(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_movies_are_valid_and_look_real() {
        let movies = fake_movies(200);
        assert_eq!(movies.len(), 200);
        for m in &movies {
            assert!((1900..=2030).contains(&m.year.get()));
            assert!(m.duration.as_str().contains("h ") && m.duration.as_str().ends_with('m'));
            assert!(GENRES.contains(&m.genre.as_str()));
            assert!(m.name.as_str().starts_with("The "));
        }
    }

    #[test]
    fn fake_characters_belong_to_the_given_movies() {
        let characters = fake_characters(50, &[3, 5]);
        assert!(characters.iter().all(|c| c.movie_id == 3 || c.movie_id == 5));
        assert!(characters.iter().all(|c| !c.name.is_empty()));
    }
}
