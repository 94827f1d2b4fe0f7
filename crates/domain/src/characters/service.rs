//! The character rules: validation, resolving the movie a character names, bulk all-or-nothing.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Character, CharacterFilter, CharacterInput, CharacterRecord, CharacterRepository};
use super::{MovieRef, NewCharacter};
use crate::auth::Principal;
use crate::bulk::{DeletedRange, check_bulk_size, check_range, missing_from_range, validate_all};
use crate::error::{Error, FieldError, RecordKind, Result};
use crate::movies::MovieRepository;
use crate::paging::{Listing, Page};
use crate::users::UserRepository;

/// Application service for characters.
#[derive(Clone)]
pub struct CharacterService {
    characters: Arc<dyn CharacterRepository>,
    movies: Arc<dyn MovieRepository>,
    /// To find editors by name.
    users: Arc<dyn UserRepository>,
}

impl CharacterService {
    pub fn new(
        characters: Arc<dyn CharacterRepository>,
        movies: Arc<dyn MovieRepository>,
        users: Arc<dyn UserRepository>,
    ) -> Self {
        Self { characters, movies, users }
    }

    pub async fn list(&self, filter: &CharacterFilter, page: Page) -> Result<Listing<Character>> {
        self.characters.list(filter, page).await
    }

    /// The characters the user `username` (in any case) created.
    ///
    /// # Errors
    /// `NotFound(User)` when there is no such user.
    pub async fn list_by_editor(&self, username: &str, page: Page) -> Result<Listing<Character>> {
        let editor = self
            .users
            .find_by_username(username)
            .await?
            .ok_or(Error::NotFound(RecordKind::User))?;
        let filter = CharacterFilter { editor_id: Some(editor.id), ..Default::default() };
        self.characters.list(&filter, page).await
    }

    /// The characters of one movie.
    ///
    /// # Errors
    /// `NotFound(Movie)`.
    pub async fn list_for_movie(&self, movie_id: i64, page: Page) -> Result<Listing<Character>> {
        self.movies.find(movie_id).await?.ok_or(Error::NotFound(RecordKind::Movie))?;
        let filter = CharacterFilter { movie_id: Some(movie_id), ..Default::default() };
        self.characters.list(&filter, page).await
    }

    /// # Errors
    /// `NotFound(Character)`.
    pub async fn get(&self, id: i64) -> Result<Character> {
        self.characters.find(id).await?.ok_or(Error::NotFound(RecordKind::Character))
    }

    /// # Errors
    /// `Invalid` for bad input, including a movie that does not exist.
    pub async fn create(&self, input: CharacterInput, by: &Principal) -> Result<Character> {
        let records = self.resolve(vec![NewCharacter::try_from(input)?]).await?;
        let result = self.characters.insert(&records[0], Some(by.user_id)).await;
        movie_gone_is_invalid(result)
    }

    /// Full replacement, by its editor or an admin; moving a character to another movie
    /// recounts both movies.
    ///
    /// # Errors
    /// `Invalid`, `NotFound(Character)`, `Forbidden`.
    pub async fn update(
        &self,
        id: i64,
        input: CharacterInput,
        by: &Principal,
    ) -> Result<Character> {
        let new = NewCharacter::try_from(input)?;
        by.require_editor_of(self.get(id).await?.editor_id)?;
        let records = self.resolve(vec![new]).await?;
        let result = self.characters.update(id, &records[0]).await;
        movie_gone_is_invalid(result)
    }

    /// By its editor or an admin.
    ///
    /// # Errors
    /// `NotFound(Character)`, `Forbidden`.
    pub async fn delete(&self, id: i64, by: &Principal) -> Result<Character> {
        by.require_editor_of(self.get(id).await?.editor_id)?;
        self.characters.delete(id).await?.ok_or(Error::NotFound(RecordKind::Character))
    }

    /// Stores all the characters or none: one bad item refuses the whole request.
    ///
    /// # Errors
    /// `Invalid` naming the bad items by index.
    pub async fn create_many(
        &self,
        inputs: Vec<CharacterInput>,
        by: &Principal,
    ) -> Result<Vec<Character>> {
        check_bulk_size(inputs.len())?;
        let characters = validate_all(inputs, NewCharacter::try_from)?;
        let records = self.resolve(characters).await?;
        movie_gone_is_invalid(self.characters.insert_many(&records, Some(by.user_id), None).await)
    }

    /// Deletes the characters with ids in `[start, end)`: admins only.
    ///
    /// # Errors
    /// `Forbidden`; `Invalid` when the range is empty, reversed or too wide.
    pub async fn delete_range(&self, start: i64, end: i64, by: &Principal) -> Result<DeletedRange> {
        by.require_admin()?;
        check_range(start, end)?;
        let deleted = self.characters.delete_range(start, end).await?;
        Ok(DeletedRange { not_found: missing_from_range(start, end, &deleted), deleted })
    }

    pub async fn count(&self) -> Result<u64> {
        self.characters.count().await
    }

    /// Looks up the movie each character names, in one query for the whole batch; a character
    /// naming no movie (or an id and a name of two different movies) is an input error.
    async fn resolve(&self, characters: Vec<NewCharacter>) -> Result<Vec<CharacterRecord>> {
        let mut ids = Vec::new();
        let mut names = Vec::new();
        for c in &characters {
            match &c.movie {
                MovieRef::Id(id) => ids.push(*id),
                MovieRef::Name(name) => names.push(name.clone()),
                MovieRef::Both(id, _) => ids.push(*id),
            }
        }
        ids.sort_unstable();
        ids.dedup();
        names.sort_unstable();
        names.dedup();
        let found = self.movies.find_refs(&ids, &names).await?;
        let by_id: HashMap<i64, &str> = found.iter().map(|(id, n)| (*id, n.as_str())).collect();
        let by_name: HashMap<&str, i64> = found.iter().map(|(id, n)| (n.as_str(), *id)).collect();

        let single = characters.len() == 1;
        let mut records = Vec::with_capacity(characters.len());
        let mut errors = Vec::new();
        for (index, c) in characters.into_iter().enumerate() {
            let movie_id = match &c.movie {
                MovieRef::Id(id) => by_id.contains_key(id).then_some(*id).ok_or("movieId"),
                MovieRef::Name(name) => by_name.get(name.as_str()).copied().ok_or("movieName"),
                MovieRef::Both(id, name) => match by_id.get(id) {
                    Some(found) if found == name => Ok(*id),
                    _ => Err("movieName"),
                },
            };
            match movie_id {
                Ok(movie_id) => records.push(CharacterRecord {
                    name: c.name.into_inner(),
                    movie_id,
                    description: c.description.into_inner(),
                }),
                Err(field) => {
                    let e = no_such_movie(field);
                    errors.push(if single { e } else { e.at_index(index) });
                }
            }
        }
        if errors.is_empty() { Ok(records) } else { Err(Error::Invalid(errors)) }
    }
}

fn no_such_movie(field: &'static str) -> FieldError {
    FieldError::new(field, "value_error", "Movie not found")
}

/// A movie deleted between lookup and write is the same input error as one that never existed.
fn movie_gone_is_invalid<T>(result: Result<T>) -> Result<T> {
    match result {
        Err(Error::NotFound(RecordKind::Movie)) => Err(no_such_movie("movieName").into()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::characters::MockCharacterRepository;
    use crate::error::Loc;
    use crate::movies::MockMovieRepository;
    use crate::users::{MockUserRepository, Role, User};

    fn user(id: i64) -> Principal {
        Principal::for_test(id, Role::User)
    }

    /// A service whose user repository must not be asked.
    fn service(
        characters: Arc<dyn CharacterRepository>,
        movies: Arc<dyn MovieRepository>,
    ) -> CharacterService {
        CharacterService::new(characters, movies, Arc::new(MockUserRepository::new()))
    }

    #[tokio::test]
    async fn listing_by_editor_finds_the_user_then_lists_its_characters() {
        let mut users = MockUserRepository::new();
        users
            .expect_find_by_username()
            .with(eq("ANA"))
            .times(1)
            .returning(|_| Ok(Some(User { id: 7, username: "ana".into(), role: Role::User })));
        let mut characters = MockCharacterRepository::new();
        characters
            .expect_list()
            .withf(|filter, page| {
                *filter == CharacterFilter { editor_id: Some(7), ..Default::default() }
                    && page.skip() == 10
            })
            .times(1)
            .returning(|_, _| Ok(Listing { items: Vec::new(), total: 0 }));
        let service = CharacterService::new(
            Arc::new(characters),
            Arc::new(MockMovieRepository::new()),
            Arc::new(users),
        );
        let page = Page::new(Some(10), Some(5)).unwrap();
        assert_eq!(service.list_by_editor("ANA", page).await.unwrap().total, 0);
    }

    #[tokio::test]
    async fn listing_by_an_unknown_editor_is_user_not_found() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_username().returning(|_| Ok(None));
        let service = CharacterService::new(
            Arc::new(MockCharacterRepository::new()), // never asked
            Arc::new(MockMovieRepository::new()),
            Arc::new(users),
        );
        let err = service.list_by_editor("ghost", Page::default()).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(RecordKind::User)), "{err:?}");
    }

    fn input(name: &str, movie: &str) -> CharacterInput {
        CharacterInput {
            name: Some(name.into()),
            movie_name: Some(movie.into()),
            ..Default::default()
        }
    }

    fn stored(id: i64, r: &CharacterRecord) -> Character {
        Character {
            id,
            name: r.name.clone(),
            movie_id: r.movie_id,
            movie_name: String::new(),
            description: r.description.clone(),
            editor_id: Some(9),
        }
    }

    fn ripley() -> CharacterRecord {
        CharacterRecord { name: "Ripley".into(), movie_id: 3, description: String::new() }
    }

    fn movies_with(known: &'static [(i64, &'static str)]) -> MockMovieRepository {
        let mut movies = MockMovieRepository::new();
        movies.expect_find_refs().returning(move |ids, names| {
            Ok(known
                .iter()
                .filter(|(id, n)| ids.contains(id) || names.iter().any(|x| x == n))
                .map(|(id, n)| (*id, n.to_string()))
                .collect())
        });
        movies
    }

    #[tokio::test]
    async fn a_character_is_stored_under_the_id_of_the_movie_it_names() {
        let mut characters = MockCharacterRepository::new();
        characters
            .expect_insert()
            .withf(|r, editor| r.movie_id == 3 && r.name == "Ripley" && *editor == Some(9))
            .times(1)
            .returning(|r, _| Ok(stored(1, r)));
        let service = service(Arc::new(characters), Arc::new(movies_with(&[(3, "Alien")])));
        service.create(input("Ripley", "Alien"), &user(9)).await.unwrap();
    }

    #[tokio::test]
    async fn a_character_naming_no_movie_is_invalid_and_not_stored() {
        let characters = MockCharacterRepository::new(); // any call would panic
        let service = service(Arc::new(characters), Arc::new(movies_with(&[])));
        let err = service.create(input("Ripley", "Alien"), &user(1)).await.unwrap_err();
        let Error::Invalid(errors) = err else { panic!("expected Invalid") };
        assert_eq!(errors[0].loc, vec![Loc::Field("movieName")]);
    }

    #[tokio::test]
    async fn an_id_and_a_name_of_different_movies_are_invalid() {
        let service = service(
            Arc::new(MockCharacterRepository::new()),
            Arc::new(movies_with(&[(3, "Alien"), (4, "Aliens")])),
        );
        let mut both = input("Ripley", "Aliens");
        both.movie_id = Some(3);
        assert!(matches!(service.create(both, &user(1)).await, Err(Error::Invalid(_))));
    }

    #[tokio::test]
    async fn a_movie_deleted_before_the_write_is_an_input_error() {
        let mut characters = MockCharacterRepository::new();
        characters.expect_find().returning(|id| Ok(Some(stored(id, &ripley()))));
        characters.expect_update().returning(|_, _| Err(Error::NotFound(RecordKind::Movie)));
        let service = service(Arc::new(characters), Arc::new(movies_with(&[(3, "Alien")])));
        let err = service.update(1, input("Ripley", "Alien"), &user(9)).await.unwrap_err();
        assert!(matches!(err, Error::Invalid(_)));
    }

    #[tokio::test]
    async fn a_bulk_request_with_one_unknown_movie_stores_nothing_and_names_the_index() {
        let characters = MockCharacterRepository::new();
        let service = service(Arc::new(characters), Arc::new(movies_with(&[(3, "Alien")])));
        let err = service
            .create_many(vec![input("Ripley", "Alien"), input("Deckard", "Blade Runner")], &user(1))
            .await
            .unwrap_err();
        let Error::Invalid(errors) = err else { panic!("expected Invalid") };
        assert_eq!(errors[0].loc, vec![Loc::Index(1), Loc::Field("movieName")]);
    }

    #[tokio::test]
    async fn listing_the_characters_of_a_missing_movie_is_not_found() {
        let mut movies = MockMovieRepository::new();
        movies.expect_find().with(eq(5)).returning(|_| Ok(None));
        let service = service(Arc::new(MockCharacterRepository::new()), Arc::new(movies));
        let result = service.list_for_movie(5, Page::default()).await;
        assert!(matches!(result, Err(Error::NotFound(RecordKind::Movie))));
    }

    #[tokio::test]
    async fn another_users_character_cannot_be_changed_or_deleted() {
        let mut characters = MockCharacterRepository::new();
        characters.expect_find().returning(|id| {
            Ok(Some(stored(
                id,
                &CharacterRecord { name: "R".into(), movie_id: 3, description: String::new() },
            )))
        });
        let service = service(Arc::new(characters), Arc::new(movies_with(&[(3, "Alien")])));
        let err = service.update(1, input("Ripley", "Alien"), &user(2)).await.unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)));
        assert!(matches!(service.delete(1, &user(2)).await, Err(Error::Forbidden(_))));
        assert!(matches!(service.delete_range(1, 2, &user(9)).await, Err(Error::Forbidden(_))));
    }
}
