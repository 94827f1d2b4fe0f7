//! A downstream crate's view of `movies-domain`: implement [`MovieRepository`] in memory and drive
//! [`MovieService`] with it, with no web framework and no database.
//!
//! Run with `cargo run -p movies-domain --example in_memory`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use movies_domain::auth::Principal;
use movies_domain::jobs::JobCredit;
use movies_domain::movies::{
    Movie, MovieFilter, MovieInput, MovieRepository, MovieService, NewMovie,
};
use movies_domain::paging::IdSpan;
use movies_domain::users::Role;
use movies_domain::{Error, Listing, Page, RecordKind, Result};

/// Movies in a `Vec`, ids counting from 1. Enough of the port for the calls below; the rest
/// follows the same pattern.
#[derive(Default)]
struct InMemoryMovies {
    rows: Mutex<Vec<Movie>>,
}

impl InMemoryMovies {
    fn rows(&self) -> std::sync::MutexGuard<'_, Vec<Movie>> {
        // A poisoned lock only means another thread panicked mid-call; the data is still usable.
        self.rows.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl MovieRepository for InMemoryMovies {
    async fn list(&self, filter: &MovieFilter, page: Page) -> Result<Listing<Movie>> {
        let rows = self.rows();
        let matching: Vec<Movie> = rows
            .iter()
            .filter(|m| {
                filter.q.as_ref().is_none_or(|q| m.name.to_lowercase().contains(&q.to_lowercase()))
            })
            .cloned()
            .collect();
        let total = matching.len() as u64;
        let after = page.after().unwrap_or(i64::MIN);
        let items = matching
            .into_iter()
            .filter(|m| m.id > after)
            .skip(page.skip() as usize)
            .take(page.limit() as usize)
            .collect();
        Ok(Listing { items, total })
    }

    async fn find(&self, id: i64) -> Result<Option<Movie>> {
        Ok(self.rows().iter().find(|m| m.id == id).cloned())
    }

    async fn find_range(&self, start: i64, end: i64) -> Result<Vec<Movie>> {
        Ok(self.rows().iter().filter(|m| (start..end).contains(&m.id)).cloned().collect())
    }

    async fn id_span(&self) -> Result<IdSpan> {
        let rows = self.rows();
        let bounds = rows.first().zip(rows.last()).map(|(first, last)| (first.id, last.id));
        Ok(IdSpan { count: rows.len() as u64, bounds })
    }

    async fn find_by_name(&self, name: &str) -> Result<Option<Movie>> {
        Ok(self.rows().iter().find(|m| m.name == name).cloned())
    }

    async fn find_refs(&self, ids: &[i64], names: &[String]) -> Result<Vec<(i64, String)>> {
        Ok(self
            .rows()
            .iter()
            .filter(|m| ids.contains(&m.id) || names.contains(&m.name))
            .map(|m| (m.id, m.name.clone()))
            .collect())
    }

    async fn insert(&self, movie: &NewMovie, editor_id: Option<i64>) -> Result<Movie> {
        let mut rows = self.rows();
        if rows.iter().any(|m| m.name == movie.name.as_str()) {
            return Err(Error::DuplicateName {
                entity: RecordKind::Movie,
                name: movie.name.to_string(),
            });
        }
        let stored = movie.stored(rows.len() as i64 + 1, editor_id);
        rows.push(stored.clone());
        Ok(stored)
    }

    async fn insert_many(
        &self,
        movies: &[NewMovie],
        editor_id: Option<i64>,
        credit: Option<JobCredit>,
    ) -> Result<Vec<Movie>> {
        if credit.is_some() {
            // This store keeps no jobs: the port's contract for a job that does not exist.
            return Err(Error::NotFound(RecordKind::Job));
        }
        let mut added = Vec::new();
        for movie in movies {
            match self.insert(movie, editor_id).await {
                Ok(m) => added.push(m),
                Err(Error::DuplicateName { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(added)
    }

    async fn update(&self, id: i64, movie: &NewMovie) -> Result<Movie> {
        let mut rows = self.rows();
        let row = rows.iter_mut().find(|m| m.id == id).ok_or(Error::NotFound(RecordKind::Movie))?;
        let updated = Movie { nr_characters: row.nr_characters, ..movie.stored(id, row.editor_id) };
        *row = updated.clone();
        Ok(updated)
    }

    async fn delete(&self, id: i64) -> Result<Option<Movie>> {
        let mut rows = self.rows();
        let index = rows.iter().position(|m| m.id == id);
        Ok(index.map(|i| rows.remove(i)))
    }

    async fn delete_by_name(&self, name: &str) -> Result<Option<Movie>> {
        let id = self.rows().iter().find(|m| m.name == name).map(|m| m.id);
        match id {
            Some(id) => self.delete(id).await,
            None => Ok(None),
        }
    }

    async fn delete_range(&self, start: i64, end: i64) -> Result<Vec<i64>> {
        let mut rows = self.rows();
        let doomed: Vec<i64> =
            rows.iter().map(|m| m.id).filter(|id| (start..end).contains(id)).collect();
        rows.retain(|m| !doomed.contains(&m.id));
        Ok(doomed)
    }

    async fn names_after(&self, after: i64, limit: u64) -> Result<Vec<(i64, String)>> {
        let rows = self.rows();
        let after = rows.iter().filter(|m| m.id > after).take(limit as usize);
        Ok(after.map(|m| (m.id, m.name.clone())).collect())
    }

    async fn sample_ids(&self, n: u64) -> Result<Vec<i64>> {
        // The first `n`: random enough for an example.
        Ok(self.rows().iter().take(n as usize).map(|m| m.id).collect())
    }

    async fn count(&self) -> Result<u64> {
        Ok(self.rows().len() as u64)
    }

    async fn recount_characters(&self) -> Result<()> {
        Ok(())
    }
}

fn movie(name: &str, year: i64) -> MovieInput {
    MovieInput { name: Some(name.into()), year: Some(year), ..Default::default() }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let service = MovieService::new(Arc::new(InMemoryMovies::default()));
    // Who is acting: normally an adapter gets this from a verified token.
    let ana = Principal {
        user_id: 1,
        username: "ana".into(),
        role: Role::User,
        token_id: "example".into(),
        token_expires_at: i64::MAX,
    };

    let alien = service.create(movie("Alien", 1979), &ana).await?;
    println!("created #{} {} ({})", alien.id, alien.name, alien.year);

    // The service enforces the rules whatever the store: a taken name, an impossible year.
    let duplicate = service.create(movie("Alien", 1986), &ana).await;
    println!("second Alien: {:?}", duplicate.map(|m| m.id));
    let invalid = service.create(movie("Metropolis", 1800), &ana).await;
    println!("year 1800: {invalid:?}");

    let bulk = service.create_many(vec![movie("Aliens", 1986), movie("Alien", 1979)], &ana).await?;
    println!("bulk: {} added, {} skipped", bulk.added.len(), bulk.not_added.len());

    let page = service.list(&MovieFilter::default(), Page::default()).await?;
    println!("{} movies: {:?}", page.total, page.items.iter().map(|m| &m.name).collect::<Vec<_>>());
    Ok(())
}
