//! A fake The Movie Database for the throwaway server of `fuzz` and `screenshots`: three movies
//! and their genres on 127.0.0.1, answered from memory. With it the `/moviesTMDB` routes answer
//! as they would with TMDB (200, 404, 409) instead of the 503 of a server without a key, which
//! the fuzzer would count as a server error; and nothing reaches the internet. std only: one
//! thread per connection, `Connection: close`, GET alone.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

/// The key the server is given, and which the fake requires (TMDB answers 401 without one).
const API_KEY: &str = "fake-tmdb-key";

/// `(id, title, release date, runtime, genre ids, overview)`.
type FakeMovie = (i64, &'static str, &'static str, u32, &'static [i64], &'static str);

const MOVIES: &[FakeMovie] = &[
    (348, "Alien", "1979-05-25", 117, &[27, 878], "In space no one can hear you scream."),
    (949, "Heat", "1995-12-15", 170, &[28, 80, 18], "A group of high-end professional thieves."),
    (1091, "The Thing", "1982-06-25", 109, &[27, 9648, 878], "Man is the warmest place to hide."),
];

const GENRES: &[(i64, &str)] = &[
    (28, "Action"),
    (80, "Crime"),
    (18, "Drama"),
    (27, "Horror"),
    (9648, "Mystery"),
    (878, "Science Fiction"),
];

/// A running fake; dropping it stops it.
pub struct FakeTmdb {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl FakeTmdb {
    /// Listens on a free port of 127.0.0.1 and answers from a thread of its own.
    pub fn start() -> Result<Self, String> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("starting the fake TMDB: {e}"))?;
        let port =
            listener.local_addr().map_err(|e| format!("starting the fake TMDB: {e}"))?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                if let Ok(stream) = stream {
                    thread::spawn(move || serve(stream));
                }
            }
        });
        Ok(Self { port, stop })
    }

    /// The server's TMDB settings, pointing at this fake.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            ("TMDB_BASE_URL", format!("http://127.0.0.1:{}/3", self.port)),
            ("TMDB_API_KEY", API_KEY.to_owned()),
        ]
    }
}

impl Drop for FakeTmdb {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accepting thread, which then sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one request's head and answers it.
fn serve(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut request_line = head.lines().next().unwrap_or("").split(' ');
    let (method, target) = (request_line.next().unwrap_or(""), request_line.next().unwrap_or(""));
    let (status, body) = if method == "GET" { answer(target) } else { (405, json!({})) };
    let body = body.to_string();
    let response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json;charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        if status == 200 { "OK" } else { "Error" },
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// The status and body TMDB would answer to `GET target`.
fn answer(target: &str) -> (u16, Value) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| percent_decode(value))
        })
    };
    if param("api_key").as_deref() != Some(API_KEY) {
        return (
            401,
            json!({ "success": false, "status_code": 7, "status_message": "Invalid API key" }),
        );
    }
    let not_found = (
        404,
        json!({ "success": false, "status_code": 34,
                "status_message": "The resource you requested could not be found." }),
    );
    let Some(path) = path.strip_prefix("/3") else { return not_found };
    match path {
        "/movie/popular" => (200, page(MOVIES.iter().collect())),
        "/genre/movie/list" => {
            let genres: Vec<Value> =
                GENRES.iter().map(|(id, name)| json!({ "id": id, "name": name })).collect();
            (200, json!({ "genres": genres }))
        }
        "/search/movie" => {
            let words = param("query").unwrap_or_default().to_lowercase();
            (200, page(MOVIES.iter().filter(|m| m.1.to_lowercase().contains(&words)).collect()))
        }
        "/discover/movie" => {
            let genre: Option<i64> = param("with_genres").and_then(|g| g.parse().ok());
            (200, page(MOVIES.iter().filter(|m| genre.is_some_and(|g| m.4.contains(&g))).collect()))
        }
        _ => {
            let id: Option<i64> = path.strip_prefix("/movie/").and_then(|id| id.parse().ok());
            match MOVIES.iter().find(|m| Some(m.0) == id) {
                Some(movie) => (200, full(movie)),
                None => not_found,
            }
        }
    }
}

/// A movie as TMDB lists it.
fn listed(&(id, title, date, _, genre_ids, overview): &FakeMovie) -> Value {
    json!({
        "id": id, "title": title, "original_title": title, "release_date": date,
        "genre_ids": genre_ids, "overview": overview, "popularity": 40.5, "adult": false
    })
}

/// A movie as TMDB answers `/movie/{id}`.
fn full(movie: &FakeMovie) -> Value {
    let mut value = listed(movie);
    let genres: Vec<Value> = GENRES
        .iter()
        .filter(|(id, _)| movie.4.contains(id))
        .map(|(id, name)| json!({ "id": id, "name": name }))
        .collect();
    value["genres"] = json!(genres);
    value["runtime"] = json!(movie.3);
    value
}

fn page(movies: Vec<&FakeMovie>) -> Value {
    let results: Vec<Value> = movies.into_iter().map(listed).collect();
    json!({ "page": 1, "total_pages": 1, "total_results": results.len(), "results": results })
}

/// `%XX` and `+` decoded, as a query string is written.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(target: &str) -> (u16, Value) {
        answer(&format!(
            "{target}{}api_key={API_KEY}",
            if target.contains('?') { '&' } else { '?' }
        ))
    }

    #[test]
    fn the_fake_answers_each_route_the_server_calls() {
        assert_eq!(get("/3/movie/popular").1["results"].as_array().unwrap().len(), 3);
        assert_eq!(get("/3/movie/348").1["runtime"], 117);
        assert_eq!(get("/3/movie/1").0, 404);
        assert_eq!(get("/3/search/movie?query=the+THING").1["results"][0]["id"], 1091);
        assert_eq!(get("/3/genre/movie/list").1["genres"][5]["name"], "Science Fiction");
        let horror = get("/3/discover/movie?with_genres=27").1;
        assert_eq!(horror["results"].as_array().unwrap().len(), 2);
        assert_eq!(answer("/3/movie/popular").0, 401);
    }

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(percent_decode("a%20b+c%2Fd%zz"), "a b c/d%zz");
    }
}
