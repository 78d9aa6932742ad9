//! nginx in front of server replicas, configured by the repository's own
//! `deploy/nginx/mcp-replicas.conf`: the template rendered into a scratch prefix ([`NginxConfig`]),
//! and nginx run from it as a child process ([`Nginx`]), round-robin over the replicas a test
//! started.
//!
//! nginx is the Debian package `nginx` (`.ci/run` installs it); a test that needs it asks
//! [`nginx_or_skip`] first, which skips it off CI when nginx is missing and fails it under CI.

use std::{
    fs,
    net::{Ipv4Addr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{TIMEOUT, service_missing, target_tmpdir};

/// The template's placeholder for the address nginx listens on (in its `listen` directive).
pub const LISTEN_PLACEHOLDER: &str = "@LISTEN@";

/// The template's placeholder for the replicas: a comment line of its own in the `upstream` block,
/// replaced by one `server HOST:PORT;` line per replica.
pub const UPSTREAM_SERVERS_PLACEHOLDER: &str = "# @UPSTREAM_SERVERS@";

/// How a skipped test names nginx.
const SERVICE: &str = "nginx (the Debian package `nginx`)";

/// The path of `deploy/nginx/mcp-replicas.conf`, the template.
pub fn nginx_template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx/mcp-replicas.conf")
}

/// The nginx program, from the `PATH` or the `sbin` directories where packages put it (a user's
/// `PATH` often lacks them), after checking that it runs (`nginx -v`).
pub fn nginx_program() -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let candidates = std::env::split_paths(&path)
        .chain(
            [
                "/usr/sbin",
                "/usr/local/sbin",
                "/sbin",
                "/usr/local/nginx/sbin",
            ]
            .into_iter()
            .map(PathBuf::from),
        )
        .map(|dir| dir.join("nginx"));
    let mut tried = Vec::new();
    for candidate in candidates {
        if !candidate.is_file() {
            continue;
        }
        match Command::new(&candidate).arg("-v").output() {
            Ok(output) if output.status.success() => return Ok(candidate),
            Ok(output) => tried.push(format!(
                "{} -v exited with {}: {}",
                candidate.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )),
            Err(error) => tried.push(format!("{}: {error}", candidate.display())),
        }
    }
    if tried.is_empty() {
        Err("no `nginx` on the PATH nor in /usr/sbin, /usr/local/sbin, /sbin, /usr/local/nginx/sbin (apt-get install nginx)".into())
    } else {
        Err(tried.join("; "))
    }
}

/// The nginx program for `test`; `None` when there is none, after [`service_missing`] has
/// recorded the skip (or, under CI, failed the test). The test then returns:
/// `let Some(nginx) = nginx_or_skip("my_test") else { return };`.
pub fn nginx_or_skip(test: &str) -> Option<PathBuf> {
    match nginx_program() {
        Ok(nginx) => Some(nginx),
        Err(error) => {
            service_missing(test, SERVICE, error);
            None
        }
    }
}

/// The template rendered for nginx to listen on `listen` (`127.0.0.1:PORT`) and send requests, in
/// turn, to `upstreams` (`HOST:PORT` each). Panics when the template lacks a placeholder, or has
/// one twice: a template the tests cannot fill is a broken template.
pub fn render_nginx_config(template: &str, listen: &str, upstreams: &[String]) -> String {
    assert!(
        !upstreams.is_empty(),
        "nginx needs at least one upstream server"
    );
    let listens = template.matches(LISTEN_PLACEHOLDER).count();
    assert_eq!(
        listens, 1,
        "the nginx template must hold {LISTEN_PLACEHOLDER} once, in `listen`; it has it {listens} times"
    );
    let marker_lines = template
        .lines()
        .filter(|line| line.trim() == UPSTREAM_SERVERS_PLACEHOLDER)
        .count();
    assert_eq!(
        marker_lines, 1,
        "the nginx template must have one line `{UPSTREAM_SERVERS_PLACEHOLDER}` in its upstream block; it has {marker_lines}"
    );
    let mut rendered = String::with_capacity(template.len() + 64 * upstreams.len());
    for line in template.lines() {
        if line.trim() == UPSTREAM_SERVERS_PLACEHOLDER {
            let indent = &line[..line.len() - line.trim_start().len()];
            for upstream in upstreams {
                rendered.push_str(&format!("{indent}server {upstream};\n"));
            }
        } else {
            rendered.push_str(&line.replace(LISTEN_PLACEHOLDER, listen));
            rendered.push('\n');
        }
    }
    rendered
}

/// The template rendered into a scratch prefix of its own (removed when dropped), laid out for
/// `nginx -p PREFIX -c FILE`: the configuration file and the `logs` directory it writes to.
pub struct NginxConfig {
    prefix: tempfile::TempDir,
    path: PathBuf,
}

impl NginxConfig {
    /// Renders `deploy/nginx/mcp-replicas.conf` for nginx to listen on `listen` and proxy to the
    /// replicas on `127.0.0.1` at `upstream_ports`.
    pub fn render(listen: &str, upstream_ports: &[u16]) -> NginxConfig {
        let template_path = nginx_template_path();
        let template = fs::read_to_string(&template_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", template_path.display()));
        let upstreams: Vec<String> = upstream_ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let rendered = render_nginx_config(&template, listen, &upstreams);
        let prefix = tempfile::Builder::new()
            .prefix("cm-nginx-")
            .tempdir_in(target_tmpdir())
            .expect("create a prefix directory for nginx");
        fs::create_dir(prefix.path().join("logs")).expect("create the prefix's logs directory");
        let path = prefix.path().join("mcp-replicas.conf");
        fs::write(&path, rendered).expect("write the rendered nginx configuration");
        NginxConfig { prefix, path }
    }

    /// The prefix directory (`nginx -p`).
    pub fn prefix(&self) -> &Path {
        self.prefix.path()
    }

    /// The rendered configuration file (`nginx -c`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rendered configuration.
    pub fn text(&self) -> String {
        fs::read_to_string(&self.path).expect("read the rendered nginx configuration")
    }

    /// `nginx -p PREFIX -c FILE -e logs/error.log`: `-e` keeps nginx from opening the compiled-in
    /// error log under /var, which a user other than root cannot write.
    pub fn command(&self, nginx: &Path) -> Command {
        let mut command = Command::new(nginx);
        command
            .arg("-p")
            .arg(self.prefix())
            .arg("-c")
            .arg(&self.path)
            .args(["-e", "logs/error.log"]);
        command
    }

    /// `nginx -t` on the rendered configuration: its output (nginx writes it on stderr), or the
    /// output as the error when nginx rejects the configuration.
    pub fn check(&self, nginx: &Path) -> Result<String, String> {
        let output = self
            .command(nginx)
            .arg("-t")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", nginx.display()));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.success() {
            Ok(text)
        } else {
            Err(format!("nginx -t exited with {}:\n{text}", output.status))
        }
    }

    /// The access log: one line per request, with the replica that served it (`upstream=`).
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.prefix().join("logs/access.log")).unwrap_or_default()
    }

    /// The error log.
    pub fn error_log(&self) -> String {
        fs::read_to_string(self.prefix().join("logs/error.log")).unwrap_or_default()
    }
}

/// nginx running the rendered template as a child process in the foreground, round-robin over
/// replicas on 127.0.0.1; killed when dropped.
pub struct Nginx {
    child: Child,
    config: NginxConfig,
    port: u16,
}

impl Nginx {
    /// Renders the template for the replicas listening on `127.0.0.1` at `upstream_ports`, starts
    /// nginx on a free loopback port, and returns once it accepts connections. Panics when nginx is
    /// missing (ask [`nginx_or_skip`] first) or does not start; the panic carries nginx's logs.
    pub fn round_robin(upstream_ports: &[u16]) -> Nginx {
        let nginx = nginx_program().unwrap_or_else(|e| panic!("{SERVICE} is needed: {e}"));
        // The port is free when picked and taken by nginx a moment later: another process may take
        // it in between, so a start that fails for that reason is tried again on another port.
        let mut failures = Vec::new();
        for _ in 0..5 {
            let port = free_port();
            let config = NginxConfig::render(&format!("127.0.0.1:{port}"), upstream_ports);
            match start(&nginx, config, port) {
                Ok(running) => return running,
                Err(failure) if failure.contains("Address already in use") => {
                    failures.push(failure)
                }
                Err(failure) => panic!("{failure}"),
            }
        }
        panic!(
            "nginx found no free port in 5 tries:\n{}",
            failures.join("\n")
        )
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The MCP endpoint through nginx, `http://127.0.0.1:PORT/mcp`.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.url())
    }

    /// The port nginx listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The rendered configuration and its prefix, with the logs.
    pub fn config(&self) -> &NginxConfig {
        &self.config
    }

    /// The replica (`127.0.0.1:PORT`) that served each request so far, in order, from the access
    /// log; a request nginx passed on after a failure lists each replica it tried, comma-separated
    /// (`127.0.0.1:1, 127.0.0.1:2`).
    pub fn upstreams_used(&self) -> Vec<String> {
        self.config
            .access_log()
            .lines()
            .filter_map(|line| {
                let rest = line.split_once(" upstream=")?.1;
                Some(rest.split_once(" upstream_status=")?.0.to_string())
            })
            .collect()
    }

    /// The access log and the error log, for a failing test's message.
    pub fn logs(&self) -> String {
        format!(
            "nginx access log:\n{}\nnginx error log:\n{}",
            self.config.access_log(),
            self.config.error_log()
        )
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // One process (`master_process off`): killing it leaves no worker behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free at the time of the call.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// Starts nginx from `config` and waits (bounded by [`TIMEOUT`]) until it accepts connections on
/// `port`; nginx's output and logs as the error when it exits first or never accepts.
fn start(nginx: &Path, config: NginxConfig, port: u16) -> Result<Nginx, String> {
    let output_path = config.prefix().join("logs/stderr.log");
    let output = fs::File::create(&output_path).expect("create nginx's output file");
    let child = config
        .command(nginx)
        .stdin(Stdio::null())
        .stdout(output.try_clone().expect("clone a file handle"))
        .stderr(output)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", nginx.display()));
    let mut running = Nginx {
        child,
        config,
        port,
    };
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(running);
        }
        let exited = running.child.try_wait().expect("poll nginx");
        if exited.is_some() || Instant::now() >= deadline {
            let what = match exited {
                Some(status) => format!("exited with {status}"),
                None => format!("did not accept connections within {TIMEOUT:?}"),
            };
            return Err(format!(
                "nginx on port {port} {what}; its output:\n{}\n{}\nconfiguration:\n{}",
                fs::read_to_string(&output_path).unwrap_or_default(),
                running.logs(),
                running.config.text()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "http {\n    upstream u {\n        # @UPSTREAM_SERVERS@\n    }\n    server { listen @LISTEN@; }\n}\n";

    #[test]
    fn rendering_puts_one_server_line_per_replica_where_the_marker_was_and_the_address_in_listen() {
        let rendered = render_nginx_config(
            TEMPLATE,
            "127.0.0.1:8080",
            &["127.0.0.1:1".into(), "127.0.0.1:2".into()],
        );
        assert_eq!(
            rendered,
            "http {\n    upstream u {\n        server 127.0.0.1:1;\n        server 127.0.0.1:2;\n    }\n    server { listen 127.0.0.1:8080; }\n}\n"
        );
    }

    #[test]
    #[should_panic(expected = "must have one line `# @UPSTREAM_SERVERS@`")]
    fn a_template_without_the_upstream_marker_is_refused() {
        render_nginx_config(
            "server { listen @LISTEN@; }",
            "127.0.0.1:1",
            &["127.0.0.1:2".into()],
        );
    }

    #[test]
    #[should_panic(expected = "must hold @LISTEN@ once")]
    fn a_template_without_the_listen_placeholder_is_refused() {
        render_nginx_config(
            "upstream u {\n# @UPSTREAM_SERVERS@\n}",
            "127.0.0.1:1",
            &["127.0.0.1:2".into()],
        );
    }

    #[test]
    fn the_repository_template_renders() {
        let template = fs::read_to_string(nginx_template_path()).unwrap();
        let rendered = render_nginx_config(&template, "127.0.0.1:9", &["127.0.0.1:10".into()]);
        assert!(rendered.contains("listen 127.0.0.1:9;"), "{rendered}");
        assert!(rendered.contains("server 127.0.0.1:10;"), "{rendered}");
        assert!(
            !rendered.contains(LISTEN_PLACEHOLDER) && !rendered.contains("@UPSTREAM_SERVERS@"),
            "a placeholder is left:\n{rendered}"
        );
    }
}
