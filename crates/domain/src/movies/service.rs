//! The movie rules: validation, unique names, bulk de-duplication, bounded ranges.

use std::collections::HashSet;
use std::sync::Arc;

use super::{Movie, MovieFilter, MovieInput, MovieRepository, NewMovie};
use crate::auth::Principal;
use crate::bulk::{DeletedRange, check_bulk_size, check_range, missing_from_range, validate_all};
use crate::error::{Error, RecordKind, Result};
use crate::paging::{Listing, Page};
use crate::users::UserRepository;

/// The outcome of a bulk insert: what was stored, and what was skipped because its name was taken
/// (in the store, or earlier in the same request).
#[derive(Debug, Clone, PartialEq)]
pub struct BulkMovies {
    pub added: Vec<Movie>,
    pub not_added: Vec<NewMovie>,
}

/// Application service for movies: every rule about movies lives here or in their value types.
///
/// It works with any [`MovieRepository`] (the crate documentation keeps one in memory). Input and
/// rights are checked before the repository is asked, so here one that must never be called will
/// do:
///
/// ```
/// use std::sync::Arc;
///
/// use movies_domain::Error;
/// use movies_domain::auth::Principal;
/// use movies_domain::movies::{MovieInput, MovieRepository, MovieService};
/// use movies_domain::users::Role;
/// # use movies_domain::movies::{Movie, MovieFilter, NewMovie};
/// # use movies_domain::{Listing, Page, Result};
/// # struct NeverCalled;
/// # #[async_trait::async_trait]
/// # impl MovieRepository for NeverCalled {
/// #     async fn list(&self, _: &MovieFilter, _: Page) -> Result<Listing<Movie>> { unreachable!() }
/// #     async fn find(&self, _: i64) -> Result<Option<Movie>> { unreachable!() }
/// #     async fn find_range(&self, _: i64, _: i64) -> Result<Vec<Movie>> { unreachable!() }
/// #     async fn id_span(&self) -> Result<movies_domain::paging::IdSpan> { unreachable!() }
/// #     async fn find_by_name(&self, _: &str) -> Result<Option<Movie>> { unreachable!() }
/// #     async fn find_refs(&self, _: &[i64], _: &[String]) -> Result<Vec<(i64, String)>> { unreachable!() }
/// #     async fn insert(&self, _: &NewMovie, _: Option<i64>) -> Result<Movie> { unreachable!() }
/// #     async fn insert_many(&self, _: &[NewMovie], _: Option<i64>, _: Option<movies_domain::jobs::JobCredit>) -> Result<Vec<Movie>> { unreachable!() }
/// #     async fn update(&self, _: i64, _: &NewMovie) -> Result<Movie> { unreachable!() }
/// #     async fn delete(&self, _: i64) -> Result<Option<Movie>> { unreachable!() }
/// #     async fn delete_by_name(&self, _: &str) -> Result<Option<Movie>> { unreachable!() }
/// #     async fn delete_range(&self, _: i64, _: i64) -> Result<Vec<i64>> { unreachable!() }
/// #     async fn names_after(&self, _: i64, _: u64) -> Result<Vec<(i64, String)>> { unreachable!() }
/// #     async fn sample_ids(&self, _: u64) -> Result<Vec<i64>> { unreachable!() }
/// #     async fn count(&self) -> Result<u64> { unreachable!() }
/// #     async fn recount_characters(&self) -> Result<()> { unreachable!() }
/// # }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let service = MovieService::new(Arc::new(NeverCalled));
/// let ana = Principal {
///     user_id: 1,
///     username: "ana".into(),
///     role: Role::User,
///     token_id: "token-1".into(),
///     token_expires_at: i64::MAX,
/// };
///
/// // Neither a name nor a year: both reported.
/// let invalid = service.create(MovieInput::default(), &ana).await;
/// assert!(matches!(invalid, Err(Error::Invalid(errors)) if errors.len() == 2));
/// // Only admins delete ranges.
/// assert!(matches!(service.delete_range(1, 10, &ana).await, Err(Error::Forbidden(_))));
/// # }
/// ```
#[derive(Clone)]
pub struct MovieService {
    repo: Arc<dyn MovieRepository>,
    /// To find editors by name; see [`MovieService::with_users`].
    users: Option<Arc<dyn UserRepository>>,
}

impl MovieService {
    pub fn new(repo: Arc<dyn MovieRepository>) -> Self {
        Self { repo, users: None }
    }

    /// The same service, able to find editors by name for [`MovieService::list_by_editor`].
    /// Added to, rather than required by, [`MovieService::new`], which importers build with a
    /// movie repository alone.
    pub fn with_users(mut self, users: Arc<dyn UserRepository>) -> Self {
        self.users = Some(users);
        self
    }

    /// The movies the user `username` (in any case) created.
    ///
    /// # Errors
    /// `NotFound(User)` when there is no such user; `Internal` when the service was built without
    /// [`MovieService::with_users`] (a wiring bug).
    pub async fn list_by_editor(&self, username: &str, page: Page) -> Result<Listing<Movie>> {
        let users = self
            .users
            .as_ref()
            .ok_or_else(|| Error::internal("MovieService::list_by_editor without with_users"))?;
        let editor =
            users.find_by_username(username).await?.ok_or(Error::NotFound(RecordKind::User))?;
        let filter = MovieFilter { editor_id: Some(editor.id), ..Default::default() };
        self.repo.list(&filter, page).await
    }

    pub async fn list(&self, filter: &MovieFilter, page: Page) -> Result<Listing<Movie>> {
        self.repo.list(filter, page).await
    }

    /// # Errors
    /// `NotFound(Movie)`.
    pub async fn get(&self, id: i64) -> Result<Movie> {
        self.repo.find(id).await?.ok_or(Error::NotFound(RecordKind::Movie))
    }

    /// Stores a movie whose editor is `by`.
    ///
    /// # Errors
    /// `Invalid` for bad input, `DuplicateName` when the name is taken.
    pub async fn create(&self, input: MovieInput, by: &Principal) -> Result<Movie> {
        let movie = NewMovie::try_from(input)?;
        self.repo.insert(&movie, Some(by.user_id)).await
    }

    /// Full replacement of a movie's fields, by its editor or an admin.
    ///
    /// # Errors
    /// `Invalid`, `NotFound(Movie)`, `Forbidden`, `DuplicateName`.
    pub async fn update(&self, id: i64, input: MovieInput, by: &Principal) -> Result<Movie> {
        let movie = NewMovie::try_from(input)?;
        by.require_editor_of(self.get(id).await?.editor_id)?;
        self.repo.update(id, &movie).await
    }

    /// Deletes a movie and its characters, by its editor or an admin.
    ///
    /// # Errors
    /// `NotFound(Movie)`, `Forbidden`.
    pub async fn delete(&self, id: i64, by: &Principal) -> Result<Movie> {
        by.require_editor_of(self.get(id).await?.editor_id)?;
        let deleted = self.repo.delete(id).await?;
        deleted.ok_or(Error::NotFound(RecordKind::Movie))
    }

    /// As [`MovieService::delete`], by exact name.
    ///
    /// # Errors
    /// `NotFound(Movie)`, `Forbidden`.
    pub async fn delete_by_name(&self, name: &str, by: &Principal) -> Result<Movie> {
        let found = self.repo.find_by_name(name.trim()).await?;
        let movie = found.ok_or(Error::NotFound(RecordKind::Movie))?;
        self.delete(movie.id, by).await
    }

    /// Validates every item first (one bad item refuses the whole request), then stores those
    /// whose name is neither taken nor repeated earlier in the request, in one transaction.
    ///
    /// # Errors
    /// `Invalid` naming the first bad items by index, or the request as a whole when it has more
    /// than [`crate::bulk::MAX_BULK_ITEMS`].
    pub async fn create_many(&self, inputs: Vec<MovieInput>, by: &Principal) -> Result<BulkMovies> {
        check_bulk_size(inputs.len())?;
        let movies = validate_all(inputs, NewMovie::try_from)?;
        let mut seen = HashSet::new();
        let (unique, mut not_added): (Vec<_>, Vec<_>) =
            movies.into_iter().partition(|m| seen.insert(m.name.clone()));
        let added = self.repo.insert_many(&unique, Some(by.user_id), None).await?;
        let stored: HashSet<&str> = added.iter().map(|m| m.name.as_str()).collect();
        let skipped = unique.iter().filter(|m| !stored.contains(m.name.as_str())).cloned();
        not_added.splice(0..0, skipped);
        Ok(BulkMovies { added, not_added })
    }

    /// Deletes the movies with ids in `[start, end)`, with their characters: admins only.
    ///
    /// # Errors
    /// `Forbidden`; `Invalid` when the range is empty, reversed or wider than
    /// [`crate::bulk::MAX_DELETE_RANGE`].
    pub async fn delete_range(&self, start: i64, end: i64, by: &Principal) -> Result<DeletedRange> {
        by.require_admin()?;
        check_range(start, end)?;
        let deleted = self.repo.delete_range(start, end).await?;
        Ok(DeletedRange { not_found: missing_from_range(start, end, &deleted), deleted })
    }

    /// The `(id, name)` of up to `limit` movies after the id `after`, in id order (from
    /// `i64::MIN` for the first slice): every name, a slice at a time, in flat memory however
    /// many there are.
    pub async fn names_after(&self, after: i64, limit: u64) -> Result<Vec<(i64, String)>> {
        self.repo.names_after(after, limit).await
    }

    pub async fn count(&self) -> Result<u64> {
        self.repo.count().await
    }

    /// Recomputes every movie's character count (kept for old clients: counts are always true):
    /// admins only.
    ///
    /// # Errors
    /// `Forbidden`.
    pub async fn recount_characters(&self, by: &Principal) -> Result<()> {
        by.require_admin()?;
        self.repo.recount_characters().await
    }

    /// Deletes movies whose name repeats another's: admins only. Names are unique, so there is
    /// never one; kept for old clients.
    ///
    /// # Errors
    /// `Forbidden`.
    pub fn delete_duplicates(&self, by: &Principal) -> Result<Vec<Movie>> {
        by.require_admin()?;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::auth::Principal;
    use crate::bulk::{MAX_BULK_ITEMS, MAX_DELETE_RANGE};
    use crate::error::Loc;
    use crate::movies::MockMovieRepository;
    use crate::users::{MockUserRepository, Role, User};

    fn user(id: i64) -> Principal {
        Principal::for_test(id, Role::User)
    }

    fn admin() -> Principal {
        Principal { role: Role::Admin, ..user(99) }
    }

    fn input(name: &str) -> MovieInput {
        MovieInput { name: Some(name.into()), year: Some(2000), ..Default::default() }
    }

    fn stored(id: i64, movie: &NewMovie) -> Movie {
        Movie {
            id,
            name: movie.name.to_string(),
            year: movie.year.get(),
            duration: String::new(),
            genre: String::new(),
            description: String::new(),
            nr_characters: 0,
            editor_id: None,
        }
    }

    #[tokio::test]
    async fn listing_by_editor_finds_the_user_then_lists_its_movies() {
        let mut users = MockUserRepository::new();
        users
            .expect_find_by_username()
            .with(eq("Ana"))
            .times(1)
            .returning(|_| Ok(Some(User { id: 7, username: "ana".into(), role: Role::User })));
        let mut repo = MockMovieRepository::new();
        repo.expect_list()
            .withf(|filter, page| {
                *filter == MovieFilter { editor_id: Some(7), ..Default::default() }
                    && page.limit() == 5
            })
            .times(1)
            .returning(|_, _| Ok(Listing { items: Vec::new(), total: 3 }));
        let service = MovieService::new(Arc::new(repo)).with_users(Arc::new(users));
        let page = Page::new(None, Some(5)).unwrap();
        assert_eq!(service.list_by_editor("Ana", page).await.unwrap().total, 3);
    }

    #[tokio::test]
    async fn listing_by_an_unknown_editor_is_user_not_found() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_username().returning(|_| Ok(None));
        let service = MovieService::new(Arc::new(MockMovieRepository::new())) // never asked
            .with_users(Arc::new(users));
        let err = service.list_by_editor("ghost", Page::default()).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(RecordKind::User)), "{err:?}");
    }

    #[tokio::test]
    async fn listing_by_editor_without_users_wired_in_is_a_bug_not_a_missing_user() {
        let service = MovieService::new(Arc::new(MockMovieRepository::new()));
        let err = service.list_by_editor("ana", Page::default()).await.unwrap_err();
        assert!(matches!(err, Error::Internal(_)), "{err:?}");
    }

    #[tokio::test]
    async fn an_invalid_movie_never_reaches_the_repository() {
        let repo = MockMovieRepository::new(); // any call would panic
        let service = MovieService::new(Arc::new(repo));
        let err = service.create(MovieInput::default(), &user(1)).await.unwrap_err();
        assert!(matches!(err, Error::Invalid(ref e) if e.len() == 2));
    }

    #[tokio::test]
    async fn a_duplicate_name_from_the_repository_is_passed_on() {
        let mut repo = MockMovieRepository::new();
        repo.expect_insert().returning(|m, _| {
            Err(Error::DuplicateName { entity: RecordKind::Movie, name: m.name.to_string() })
        });
        let service = MovieService::new(Arc::new(repo));
        let err = service.create(input("Alien"), &user(1)).await.unwrap_err();
        assert!(matches!(err, Error::DuplicateName { .. }));
    }

    #[tokio::test]
    async fn a_missing_movie_is_not_found() {
        let mut repo = MockMovieRepository::new();
        repo.expect_find().with(eq(7)).returning(|_| Ok(None));
        let service = MovieService::new(Arc::new(repo));
        assert!(matches!(service.get(7).await, Err(Error::NotFound(RecordKind::Movie))));
    }

    #[tokio::test]
    async fn bulk_skips_names_repeated_in_the_request_and_names_already_stored() {
        let mut repo = MockMovieRepository::new();
        repo.expect_insert_many()
            .withf(|movies, _, _| {
                movies.iter().map(|m| m.name.as_str()).collect::<Vec<_>>() == ["A", "B"]
            })
            .withf(|_, editor, credit| *editor == Some(1) && credit.is_none())
            .times(1)
            // "B" is already stored: the repository skips it.
            .returning(|movies, _, _| Ok(vec![stored(1, &movies[0])]));
        let service = MovieService::new(Arc::new(repo));

        let outcome = service
            .create_many(vec![input("A"), input("B"), input(" A ")], &user(1))
            .await
            .unwrap();

        assert_eq!(outcome.added.len(), 1);
        let skipped: Vec<_> = outcome.not_added.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(skipped, ["B", "A"]);
    }

    #[tokio::test]
    async fn one_bad_item_refuses_the_whole_bulk_request_and_names_its_index() {
        let repo = MockMovieRepository::new();
        let service = MovieService::new(Arc::new(repo));
        let mut bad = input("C");
        bad.year = Some(1);
        let err = service.create_many(vec![input("A"), bad], &user(1)).await.unwrap_err();
        let Error::Invalid(errors) = err else { panic!("expected Invalid") };
        assert_eq!(errors[0].loc, vec![Loc::Index(1), Loc::Field("year")]);
    }

    #[tokio::test]
    async fn a_bulk_request_over_the_limit_is_refused() {
        let service = MovieService::new(Arc::new(MockMovieRepository::new()));
        let inputs = vec![MovieInput::default(); MAX_BULK_ITEMS + 1];
        assert!(matches!(service.create_many(inputs, &user(1)).await, Err(Error::Invalid(_))));
    }

    #[tokio::test]
    async fn a_range_delete_reports_what_was_not_found() {
        let mut repo = MockMovieRepository::new();
        repo.expect_delete_range().with(eq(1), eq(5)).returning(|_, _| Ok(vec![2, 3]));
        let service = MovieService::new(Arc::new(repo));
        let outcome = service.delete_range(1, 5, &admin()).await.unwrap();
        assert_eq!(outcome, DeletedRange { deleted: vec![2, 3], not_found: vec![1, 4] });
    }

    #[tokio::test]
    async fn reversed_and_too_wide_ranges_are_refused() {
        let service = MovieService::new(Arc::new(MockMovieRepository::new()));
        assert!(service.delete_range(5, 5, &admin()).await.is_err());
        assert!(service.delete_range(0, MAX_DELETE_RANGE + 1, &admin()).await.is_err());
        assert!(service.delete_range(i64::MIN, i64::MAX, &admin()).await.is_err());
    }

    #[tokio::test]
    async fn only_the_editor_or_an_admin_may_update_or_delete_a_movie() {
        let mut repo = MockMovieRepository::new();
        repo.expect_find().returning(|id| {
            Ok(Some(Movie {
                editor_id: Some(1),
                ..stored(id, &NewMovie::try_from(input("A")).unwrap())
            }))
        });
        repo.expect_update().times(1).returning(|id, m| Ok(stored(id, m)));
        repo.expect_delete().times(1).returning(|_| Ok(None));
        let service = MovieService::new(Arc::new(repo));

        let err = service.update(5, input("B"), &user(2)).await.unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)));
        assert!(matches!(service.delete(5, &user(2)).await, Err(Error::Forbidden(_))));
        service.update(5, input("B"), &user(1)).await.unwrap();
        let _ = service.delete(5, &admin()).await;
    }

    #[tokio::test]
    async fn admin_only_operations_refuse_plain_users() {
        let service = MovieService::new(Arc::new(MockMovieRepository::new()));
        assert!(matches!(service.delete_range(1, 2, &user(1)).await, Err(Error::Forbidden(_))));
        assert!(matches!(service.recount_characters(&user(1)).await, Err(Error::Forbidden(_))));
        assert!(matches!(service.delete_duplicates(&user(1)), Err(Error::Forbidden(_))));
        assert!(service.delete_duplicates(&admin()).unwrap().is_empty());
    }
}
