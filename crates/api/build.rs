//! Build script: compiles the PostgreSQL run of the HTTP integration suite
//! (`tests/api_postgres`) only when `TEST_DATABASE_URL` is set, through the `test_postgres` cfg,
//! so that without a server that second test binary is one test that says why it skipped,
//! not a second build of the whole suite.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(test_postgres)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=test_postgres");
    }
}
