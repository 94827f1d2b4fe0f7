//! The catalogue rules: genres found by name, empty searches answered locally, and imports that
//! go through the movie rules like any other new movie.

use std::sync::Arc;

use serde_json::Value;

use super::{MovieCatalogue, OutsideMovie};
use crate::auth::Principal;
use crate::error::{OutsideItem, Result, UpstreamError};
use crate::movies::{Movie, MovieService};

/// Application service over the outside movie catalogue.
#[derive(Clone)]
pub struct CatalogueService {
    catalogue: Arc<dyn MovieCatalogue>,
    movies: MovieService,
}

impl CatalogueService {
    pub fn new(catalogue: Arc<dyn MovieCatalogue>, movies: MovieService) -> Self {
        Self { catalogue, movies }
    }

    /// The catalogue's popular movies.
    pub async fn popular(&self) -> Result<Vec<Value>> {
        self.catalogue.popular().await
    }

    /// # Errors
    /// `Upstream(NotFound(Movie))` when the catalogue has no such movie.
    pub async fn movie(&self, id: i64) -> Result<Value> {
        self.catalogue.movie(id).await
    }

    /// The catalogue's movies whose title matches `name`; a blank name matches none, without a
    /// call.
    pub async fn search(&self, name: &str) -> Result<Vec<Value>> {
        let name = name.trim();
        if name.is_empty() {
            return Ok(Vec::new());
        }
        self.catalogue.search(name).await
    }

    /// The popular movies of the genre named `name`, compared without regard to case.
    ///
    /// # Errors
    /// `Upstream(NotFound(Genre))` when the catalogue has no genre of that name.
    pub async fn by_genre(&self, name: &str) -> Result<Vec<Value>> {
        let wanted = name.trim().to_lowercase();
        let genres = self.catalogue.genres().await?;
        let genre = genres.iter().find(|g| g.name.to_lowercase() == wanted);
        let genre = genre.ok_or(UpstreamError::NotFound(OutsideItem::Genre))?;
        self.catalogue.by_genre(genre.id).await
    }

    /// Adds the catalogue's movie `id` to ours, with `by` as its editor, as
    /// [`MovieService::create`] would add it (the same rules, the same event).
    ///
    /// # Errors
    /// `Upstream(NotFound(Movie))`; `Invalid` when the catalogue's movie breaks a movie rule (no
    /// release date, so no year); `DuplicateName` when its title is taken.
    pub async fn import(&self, id: i64, by: &Principal) -> Result<Movie> {
        let json = self.catalogue.movie(id).await?;
        let movie = OutsideMovie::from_json(&json).map_err(|e| {
            UpstreamError::failed(format!("the catalogue's movie {id} cannot be read: {e}"))
        })?;
        self.movies.create(movie.into(), by).await
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;
    use serde_json::json;

    use super::*;
    use crate::Error;
    use crate::catalogue::{MockMovieCatalogue, OutsideGenre};
    use crate::error::RecordKind;
    use crate::movies::{MockMovieRepository, NewMovie};
    use crate::users::Role;

    fn service(catalogue: MockMovieCatalogue, repo: MockMovieRepository) -> CatalogueService {
        CatalogueService::new(Arc::new(catalogue), MovieService::new(Arc::new(repo)))
    }

    fn genres() -> Vec<OutsideGenre> {
        vec![
            OutsideGenre { id: 28, name: "Action".into() },
            OutsideGenre { id: 878, name: "Science Fiction".into() },
        ]
    }

    fn stored(movie: &NewMovie, editor_id: Option<i64>) -> Movie {
        Movie {
            id: 1,
            name: movie.name.to_string(),
            year: movie.year.get(),
            duration: movie.duration.as_str().to_owned(),
            genre: movie.genre.as_str().to_owned(),
            description: movie.description.as_str().to_owned(),
            nr_characters: 0,
            editor_id,
        }
    }

    #[tokio::test]
    async fn a_genre_is_found_by_its_name_in_any_case() {
        let mut catalogue = MockMovieCatalogue::new();
        catalogue.expect_genres().returning(|| Ok(genres()));
        catalogue.expect_by_genre().with(eq(878)).times(1).returning(|_| Ok(vec![json!({})]));
        let service = service(catalogue, MockMovieRepository::new());
        assert_eq!(service.by_genre(" science FICTION ").await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_unknown_genre_is_not_found_and_nothing_is_discovered() {
        let mut catalogue = MockMovieCatalogue::new();
        catalogue.expect_genres().returning(|| Ok(genres()));
        let service = service(catalogue, MockMovieRepository::new());
        let err = service.by_genre("Western").await.unwrap_err();
        assert!(matches!(err, Error::Upstream(UpstreamError::NotFound(OutsideItem::Genre))));
    }

    #[tokio::test]
    async fn a_blank_search_matches_nothing_without_calling_the_catalogue() {
        let service = service(MockMovieCatalogue::new(), MockMovieRepository::new());
        assert!(service.search("  ").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_search_sends_the_trimmed_name() {
        let mut catalogue = MockMovieCatalogue::new();
        catalogue.expect_search().with(eq("Alien")).times(1).returning(|_| Ok(Vec::new()));
        let service = service(catalogue, MockMovieRepository::new());
        service.search(" Alien ").await.unwrap();
    }

    #[tokio::test]
    async fn an_import_stores_the_mapped_movie_with_the_caller_as_editor() {
        let mut catalogue = MockMovieCatalogue::new();
        catalogue.expect_movie().with(eq(348)).returning(|_| {
            Ok(json!({ "title": "Alien", "release_date": "1979-05-25", "runtime": 117,
                       "genres": [{ "id": 27, "name": "Horror" }], "overview": "Scream." }))
        });
        let mut repo = MockMovieRepository::new();
        repo.expect_insert()
            .withf(|m, editor| {
                (m.name.as_str(), m.year.get(), m.duration.as_str(), m.genre.as_str())
                    == ("Alien", 1979, "1h 57m", "Horror")
                    && *editor == Some(7)
            })
            .times(1)
            .returning(|m, editor| Ok(stored(m, editor)));
        let service = service(catalogue, repo);
        let movie = service.import(348, &Principal::for_test(7, Role::User)).await.unwrap();
        assert_eq!(movie.description, "Scream.");
    }

    #[tokio::test]
    async fn an_import_without_a_release_date_breaks_the_year_rule() {
        let mut catalogue = MockMovieCatalogue::new();
        catalogue.expect_movie().returning(|_| Ok(json!({ "title": "Soon", "release_date": "" })));
        let service = service(catalogue, MockMovieRepository::new());
        let err = service.import(1, &Principal::for_test(7, Role::User)).await.unwrap_err();
        assert!(matches!(err, Error::Invalid(ref e) if e[0].kind == "missing"));
    }

    #[tokio::test]
    async fn an_import_of_a_taken_name_is_a_duplicate() {
        let mut catalogue = MockMovieCatalogue::new();
        catalogue
            .expect_movie()
            .returning(|_| Ok(json!({ "title": "Alien", "release_date": "1979" })));
        let mut repo = MockMovieRepository::new();
        repo.expect_insert().returning(|m, _| {
            Err(Error::DuplicateName { entity: RecordKind::Movie, name: m.name.to_string() })
        });
        let service = service(catalogue, repo);
        let err = service.import(348, &Principal::for_test(7, Role::User)).await.unwrap_err();
        assert!(matches!(err, Error::DuplicateName { .. }));
    }

    #[tokio::test]
    async fn an_import_of_a_movie_the_catalogue_lacks_is_not_found() {
        let mut catalogue = MockMovieCatalogue::new();
        catalogue
            .expect_movie()
            .returning(|_| Err(UpstreamError::NotFound(OutsideItem::Movie).into()));
        let service = service(catalogue, MockMovieRepository::new());
        let err = service.import(9, &Principal::for_test(7, Role::User)).await.unwrap_err();
        assert!(matches!(err, Error::Upstream(UpstreamError::NotFound(OutsideItem::Movie))));
    }

    #[tokio::test]
    async fn an_unreadable_catalogue_movie_is_an_upstream_failure() {
        let mut catalogue = MockMovieCatalogue::new();
        catalogue.expect_movie().returning(|_| Ok(json!({ "title": ["not", "text"] })));
        let service = service(catalogue, MockMovieRepository::new());
        let err = service.import(9, &Principal::for_test(7, Role::User)).await.unwrap_err();
        assert!(matches!(err, Error::Upstream(UpstreamError::Failed(_))));
    }
}
