//! What every handler can reach: the application services, built once at start.

use std::sync::Arc;

use movies_domain::characters::CharacterService;
use movies_domain::movies::MovieService;
use movies_infra::{Database, SeaCharacterRepository, SeaMovieRepository};

#[derive(Clone)]
pub struct AppState {
    pub movies: MovieService,
    pub characters: CharacterService,
    /// For the health check only: handlers go through the services.
    pub db: Database,
}

impl AppState {
    /// Wires the SeaORM adapters into the services.
    pub fn new(db: Database) -> Self {
        let movies = Arc::new(SeaMovieRepository::new(db.clone()));
        let characters = Arc::new(SeaCharacterRepository::new(db.clone()));
        Self {
            movies: MovieService::new(movies.clone()),
            characters: CharacterService::new(characters, movies),
            db,
        }
    }
}
