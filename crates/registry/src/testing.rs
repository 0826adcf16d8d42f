//! A real registry for tests (feature `testing`): the CNCF distribution
//! registry (Debian's `docker-registry`) on a free loopback port, with its
//! storage in a temporary directory, stopped when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::artifact;

const SERVICE: &str = "gavel-test-registry";
const ISSUER: &str = "gavel-test-issuer";

#[derive(Debug)]
pub struct LoopbackRegistry {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
    tokens: Option<Arc<AtomicUsize>>,
}

impl Drop for LoopbackRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// How the test registry asks clients to authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Anyone may push and pull.
    None,
    /// HTTP basic auth against an htpasswd file (bcrypt), as a self-hosted
    /// registry is often set up.
    Basic { username: String, password: String },
    /// Bearer tokens (the Docker token protocol, as Docker Hub, GHCR and
    /// Harbor use): the registry answers 401 with a challenge naming a
    /// token server on loopback, which checks the user's basic credentials
    /// and issues a JWT signed by a key whose certificate the registry
    /// trusts (made with `openssl`).
    Token { username: String, password: String },
}

impl LoopbackRegistry {
    /// Starts a registry and waits until it accepts connections.
    pub fn start() -> LoopbackRegistry {
        LoopbackRegistry::start_with(Auth::None)
    }

    /// Starts a registry that authenticates as `auth` says.
    pub fn start_with(auth: Auth) -> LoopbackRegistry {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let config = dir.path().join("reg.yml");
        let mut token_server = None;
        let auth_config = match &auth {
            Auth::None => String::new(),
            Auth::Basic { username, password } => {
                let file = dir.path().join("htpasswd");
                let hash = bcrypt::hash(password, 4).expect("a bcrypt hash");
                std::fs::write(&file, format!("{username}:{hash}\n")).expect("the htpasswd file");
                format!(
                    "auth: {{htpasswd: {{realm: gavel-test, path: {}}}}}\n",
                    file.display()
                )
            }
            Auth::Token { username, password } => {
                let server = TokenServer::start(dir.path(), username, password);
                let config = format!(
                    "auth: {{token: {{realm: \"http://127.0.0.1:{}/token\", service: {SERVICE}, issuer: {ISSUER}, rootcertbundle: {}}}}}\n",
                    server.port,
                    server.cert.display()
                );
                token_server = Some(server);
                config
            }
        };
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n{auth_config}",
                dir.path().join("data").display()
            ),
        )
        .expect("the registry's configuration");
        let child = serve(&config, port);
        LoopbackRegistry {
            child,
            port,
            dir,
            tokens: token_server.map(|t| t.issued),
        }
    }

    /// Stops the registry (its storage stays): clients see it down.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port with the same storage.
    pub fn restart(&mut self) {
        self.stop();
        self.child = serve(&self.dir.path().join("reg.yml"), self.port);
    }

    /// How many tokens the token server issued (0 without one).
    pub fn tokens_issued(&self) -> usize {
        self.tokens
            .as_ref()
            .map_or(0, |t| t.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// `oci+http://127.0.0.1:PORT/NAMESPACE`.
    pub fn url(&self, namespace: &str) -> String {
        format!("oci+http://127.0.0.1:{}/{namespace}", self.port)
    }

    /// The file the registry keeps a blob in (to change it behind its back).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = artifact::digest_hex(digest).expect("a sha256 digest");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

/// A token server on loopback: `GET /token?service=…&scope=…` with the
/// right basic credentials answers `{"token": JWT}`, the JWT signed
/// (RS256, through `openssl`) by a key whose self-signed certificate the
/// registry trusts and carried in the token's `x5c` header; wrong
/// credentials get 401.
struct TokenServer {
    port: u16,
    cert: PathBuf,
    issued: Arc<AtomicUsize>,
}

fn openssl(args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write as _;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl runs (cargo xtask installs it)");
    if let Some(bytes) = input {
        child
            .stdin
            .take()
            .expect("openssl's stdin")
            .write_all(bytes)
            .expect("openssl reads its input");
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("openssl ends");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `%XX` decoding of a query value.
fn unescape(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl TokenServer {
    fn start(dir: &std::path::Path, username: &str, password: &str) -> TokenServer {
        let key = dir.join("token.key");
        let cert = dir.join("token.crt");
        let (k, c) = (key.display().to_string(), cert.display().to_string());
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &k,
                "-out",
                &c,
                "-days",
                "2",
                "-subj",
                "/CN=gavel-test-token",
            ],
            None,
        );
        let der = openssl(&["x509", "-in", &c, "-outform", "DER"], None);
        let x5c = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(der)
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the token server");
        let port = listener.local_addr().expect("its address").port();
        let issued = Arc::new(AtomicUsize::new(0));
        let expected = {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )
        };
        let user = username.to_string();
        let counter = Arc::clone(&issued);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = serve_token(stream, &expected, &user, &k, &x5c, &counter);
            }
        });
        TokenServer { port, cert, issued }
    }
}

fn serve_token(
    mut stream: std::net::TcpStream,
    expected: &str,
    user: &str,
    key: &str,
    x5c: &str,
    issued: &AtomicUsize,
) -> std::io::Result<()> {
    use std::io::{BufRead as _, BufReader, Write as _};
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut authorized = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") && value.trim() == expected {
                authorized = true;
            }
        }
    }
    let target = request.split_whitespace().nth(1).unwrap_or("");
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| unescape(v))
            .collect::<Vec<_>>()
    };
    if !authorized {
        let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#;
        write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return Ok(());
    }
    // `repository:team/x:pull,push` → that access, as asked.
    let access: Vec<serde_json::Value> = param("scope")
        .iter()
        .flat_map(|s| s.split(' ').map(str::to_string).collect::<Vec<_>>())
        .filter_map(|s| {
            let mut parts = s.splitn(3, ':');
            let (ty, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(serde_json::json!({
                "type": ty, "name": name,
                "actions": actions.split(',').collect::<Vec<_>>(),
            }))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let n = issued.fetch_add(1, Ordering::SeqCst);
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": user, "aud": SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now,
        "jti": format!("gavel-test-{n}-{now}"), "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let sig = openssl(
        &["dgst", "-sha256", "-sign", key],
        Some(signing_input.as_bytes()),
    );
    let body =
        serde_json::json!({"token": format!("{signing_input}.{}", b64url(&sig))}).to_string();
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}

/// `docker-registry serve CONFIG`, waited for until it accepts connections.
fn serve(config: &std::path::Path, port: u16) -> Child {
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry runs (cargo xtask installs it)");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the registry did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}
