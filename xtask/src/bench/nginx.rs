//! nginx in front of several instances, for `cargo xtask bench --instances N`: the one place
//! the bench's nginx configuration is written. nginx runs in the foreground (`daemon off`) from
//! a temporary directory holding its configuration, pid file, error log and temporary files,
//! and is stopped, and the directory removed, when the [`Nginx`] is dropped.
//!
//! The configuration is what a deployment in front of this server needs, kept minimal: an
//! upstream of the instances (round robin) with idle HTTP/1.1 connections kept open to them
//! (`keepalive`, `proxy_http_version 1.1`, an empty `Connection` header), `/ws` passed on with
//! its `Upgrade` and `Connection` headers, and limits raised for 10,000 connections at once.
//! The deployment's own, tested file is docs/deploy/nginx.conf; this one differs where a bench
//! needs it to (no `max_fails`, no limit on requests per connection).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use std::{env, thread};

use crate::http;

/// Where Debian's package puts it; else `nginx` from `PATH`.
const DEBIAN_NGINX: &str = "/usr/sbin/nginx";
const START_TIMEOUT: Duration = Duration::from_secs(10);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running nginx; dropping it stops it.
pub struct Nginx {
    child: Child,
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    /// Starts nginx on `port` in front of the instances on `upstreams` (ports on 127.0.0.1) and
    /// waits until `GET /health` answers 200 through it.
    pub fn start(port: u16, upstreams: &[u16]) -> Result<Nginx, String> {
        let binary = binary()?;
        let dir = env::temp_dir().join(format!("movies-xtask-nginx-{}-{port}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let conf = dir.join("nginx.conf");
        fs::write(&conf, config(&dir, port, upstreams, worker_connections()))
            .map_err(|e| format!("writing {}: {e}", conf.display()))?;
        let child = Command::new(&binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            // The error log before the configuration is read (nginx 1.19.5 and later).
            .arg("-e")
            .arg(dir.join("error.log"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let mut nginx = Nginx { child, binary, dir, port };
        nginx.wait_until_ready()?;
        Ok(nginx)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Fails when nginx is no longer running.
    pub fn check_running(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            _ => Err(self.failure("nginx stopped during the run")),
        }
    }

    /// Lines of nginx's error log at `warn` and above (a 502, an upstream that closed early, too
    /// few connections): the evidence when something went wrong behind it.
    pub fn error_log(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("error.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn failure(&self, message: &str) -> String {
        let log = self.error_log();
        let tail = &log[log.len().saturating_sub(20)..];
        format!("{message}\n--- nginx's error log ---\n{}\n--- end ---", tail.join("\n"))
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.failure(&format!("nginx stopped at start ({status})")));
            }
            match http::get(self.port, "/health") {
                Ok(answer) if answer.status == 200 => return Ok(()),
                _ if Instant::now() > deadline => {
                    return Err(self.failure("GET /health through nginx did not answer 200"));
                }
                _ => thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // `-s stop` sends the master SIGTERM through the pid file; it stops its workers. Killing
        // the master outright would leave them running.
        let _ = Command::new(&self.binary)
            .arg("-p")
            .arg(&self.dir)
            .arg("-c")
            .arg(self.dir.join("nginx.conf"))
            .arg("-e")
            .arg(self.dir.join("error.log"))
            .args(["-s", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// nginx's binary, or why there is none.
pub fn binary() -> Result<PathBuf, String> {
    if Path::new(DEBIAN_NGINX).exists() {
        return Ok(PathBuf::from(DEBIAN_NGINX));
    }
    let found = env::var_os("PATH")
        .into_iter()
        .flat_map(|path| env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.exists());
    found.ok_or_else(|| {
        "--instances needs nginx, which is not installed (Debian: `apt-get install -y nginx`)"
            .into()
    })
}

/// Connections per worker: as many as the open-files limit nginx inherits from the bench (raised
/// to the hard limit) allows, less a few for its logs. Workers run as `nobody` and cannot raise
/// it themselves (`worker_rlimit_nofile` fails there).
fn worker_connections() -> u64 {
    let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((1024, 1024));
    soft.saturating_sub(64).clamp(512, 65_536)
}

/// nginx's configuration: everything it writes stays in `dir`.
pub fn config(dir: &Path, port: u16, upstreams: &[u16], worker_connections: u64) -> String {
    let dir = dir.display();
    let servers: String =
        upstreams.iter().map(|p| format!("        server 127.0.0.1:{p};\n")).collect();
    format!(
        "\
# Written by cargo xtask bench (xtask/src/bench/nginx.rs) for one run.
# One worker per core. 10,000 clients take 10,000 connections in and as many out to the
# instances: worker_connections counts both, within the open-files limit.
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{
    worker_connections {worker_connections};
}}

http {{
    access_log off;
    # The server enforces its own body limits (1 MiB, 16 MiB on the bulk routes).
    client_max_body_size 0;
    # The load generator keeps each connection for the whole scenario: the default of 1,000
    # requests would close it halfway, which it counts as an error.
    keepalive_requests 10000000;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    upstream movies_api {{
{servers}        # Idle connections kept open to the instances, per worker: without them every
        # request would open a TCP connection to an instance.
        keepalive 1024;
        keepalive_requests 10000000;
    }}

    # A WebSocket handshake asks for an upgrade; anything else on /ws keeps the connection.
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' '';
    }}

    server {{
        listen 127.0.0.1:{port} backlog=4096;

        location / {{
            proxy_pass http://movies_api;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}

        location = /ws {{
            proxy_pass http://movies_api;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # A listener may hear nothing for a long while; nginx's 60 s would close it.
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }}
    }}
}}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_spreads_over_every_instance_and_keeps_connections_to_them() {
        let text = config(Path::new("/tmp/n"), 8080, &[9001, 9002], 20_000);
        for needle in [
            "server 127.0.0.1:9001;",
            "server 127.0.0.1:9002;",
            "keepalive 1024;",
            "proxy_http_version 1.1;",
            "proxy_set_header Connection \"\";",
            "proxy_set_header Upgrade $http_upgrade;",
            "proxy_set_header Connection $connection_upgrade;",
            "listen 127.0.0.1:8080",
            "pid /tmp/n/nginx.pid;",
            "access_log off;",
            "worker_connections 20000;",
        ] {
            assert!(text.contains(needle), "{needle}\n{text}");
        }
        // Braces balance, or nginx refuses the file.
        assert_eq!(text.matches('{').count(), text.matches('}').count());
    }
}
