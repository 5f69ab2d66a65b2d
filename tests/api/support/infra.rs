//! Real infrastructure for the operability tests: nginx in front of the binary, and a throwaway
//! PostgreSQL cluster that a test may stop and start.

use crate::support::helpers::free_port;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on {port}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{:016x}", getrandom::u64().unwrap()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// nginx from `deploy/nginx.conf`, pointed at the given upstreams, on a free loopback port.
pub struct Nginx {
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    /// The nginx binary, if installed (`.ci/run` installs Debian's).
    pub fn binary() -> Option<PathBuf> {
        ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    }

    pub fn start(binary: &Path, upstreams: &[SocketAddr]) -> Nginx {
        Nginx::start_with(binary, upstreams, &|config| config)
    }

    /// [`Nginx::start`] with `deploy/nginx.conf` passed through `edit` first (the gateway test
    /// turns its example on).
    pub fn start_with(
        binary: &Path,
        upstreams: &[SocketAddr],
        edit: &dyn Fn(String) -> String,
    ) -> Nginx {
        let template = edit(
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
                .unwrap(),
        );
        let servers: String = upstreams.iter().map(|a| format!("        server {a};\n")).collect();
        let port = free_port();
        assert!(
            template.contains("        server api:8080;\n") && template.contains("listen 8080;")
        );
        let config = template
            .replace("        server api:8080;\n", &servers)
            .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"));
        let dir = scratch_dir("beefirst-nginx");
        std::fs::write(dir.join("nginx.conf"), config).unwrap();
        let globals = format!(
            "daemon off; master_process off; pid {0}/nginx.pid; error_log {0}/error.log;",
            dir.display()
        );
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-g")
            .arg(globals)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port, "nginx");
        Nginx { port, child, dir }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A PostgreSQL cluster of its own (initdb + pg_ctl from the installed PostgreSQL), so a test can
/// stop and restart the database without touching the shared one.
pub struct PgCluster {
    pub port: u16,
    bin: PathBuf,
    dir: PathBuf,
}

impl PgCluster {
    /// The directory with initdb and pg_ctl, if PostgreSQL's server binaries are installed.
    pub fn bin_dir() -> Option<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
            .collect();
        dirs.sort();
        dirs.pop()
    }

    /// Runs a PostgreSQL tool as the `postgres` user when we are root (initdb refuses root).
    fn run(&self, tool: &str, args: &[&str]) -> bool {
        let tool = self.bin.join(tool);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(tool);
            c
        } else {
            Command::new(tool)
        };
        command
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn start(bin: PathBuf) -> PgCluster {
        let dir = scratch_dir("beefirst-pg");
        if is_root() {
            assert!(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let cluster = PgCluster { port: free_port(), bin, dir };
        let data = cluster.data();
        assert!(
            cluster.run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"]),
            "initdb failed"
        );
        cluster.start_again();
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    pub fn start_again(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        assert!(
            self.run("pg_ctl", &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "start"]),
            "pg_ctl start failed"
        );
    }

    pub fn stop(&self) {
        assert!(
            self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]),
            "pg_ctl stop failed"
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}
