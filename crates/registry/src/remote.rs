//! The OCI Distribution API over HTTP (`reqwest`, rustls): blob uploads
//! (monolithic POST then PUT; chunked PATCHes for large blobs), manifests,
//! tag lists (paged), the referrers API; bearer tokens (fetched from the
//! realm a 401 names) and basic auth; retries with backoff on connection
//! failures, 429 and 5xx; every download bounded in size and time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use crate::artifact::{self, Descriptor, MANIFEST_TYPE, Manifest};
use crate::{MAX_BLOB_BYTES, MAX_MANIFEST_BYTES, RegistryError, check_content};

/// Blobs larger than this are uploaded in chunks of this size.
pub const CHUNK_BYTES: usize = 4 << 20;
/// Attempts per request (the first and three retries).
const ATTEMPTS: u32 = 4;
/// How long one download may take, whatever its size.
const DOWNLOAD_SECONDS: u64 = 60;

/// A user name and password (or token) for a registry.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// A registry at `base` (`https://host:port` or `http://…`).
#[derive(Debug, Clone)]
pub struct Remote {
    base: String,
    http: reqwest::Client,
    credentials: Option<Credentials>,
    /// The bearer token the registry's realm gave, reused until refused.
    token: Arc<Mutex<Option<String>>>,
    /// The first retry's pause (tests shorten it).
    backoff: Duration,
}

fn install_crypto() {
    // Several clients (and the updater) may try; the first one wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Remote {
    pub fn new(base: &str, credentials: Option<Credentials>) -> Result<Remote, RegistryError> {
        install_crypto();
        let http = reqwest::Client::builder()
            .user_agent(concat!("gavel/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| RegistryError::Invalid(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Remote {
            base: base.trim_end_matches('/').to_string(),
            http,
            credentials,
            token: Arc::new(Mutex::new(None)),
            backoff: Duration::from_millis(200),
        })
    }

    /// The same registry with a shorter pause between retries.
    pub fn with_backoff(mut self, first: Duration) -> Remote {
        self.backoff = first;
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Resolves a `Location` header against the registry.
    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            self.url(location)
        }
    }

    fn authorize(&self, rb: RequestBuilder) -> RequestBuilder {
        let token = self.token.lock().ok().and_then(|t| t.clone());
        match (token, &self.credentials) {
            (Some(t), _) => rb.header(AUTHORIZATION, format!("Bearer {t}")),
            (None, Some(c)) => rb.basic_auth(&c.username, Some(&c.password)),
            (None, None) => rb,
        }
    }

    /// Sends a request built by `build`, retrying connection failures, 429
    /// and 5xx with backoff, and answering a bearer challenge once.
    async fn send(
        &self,
        method: &'static str,
        url: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let mut challenged = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.authorize(build()).send().await;
            let retry_after = match result {
                Err(e) => {
                    if attempt >= ATTEMPTS {
                        return Err(RegistryError::Unreachable {
                            url: url.to_string(),
                            message: e.to_string(),
                        });
                    }
                    None
                }
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED && !challenged => {
                    challenged = true;
                    let challenge = resp
                        .headers()
                        .get(WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    match challenge.as_deref().and_then(bearer_challenge) {
                        Some(c) => self.fetch_token(url, &c).await?,
                        None => {
                            return Err(RegistryError::Unauthorized {
                                url: url.to_string(),
                                status: 401,
                            });
                        }
                    }
                    continue;
                }
                Ok(resp)
                    if resp.status() == StatusCode::UNAUTHORIZED
                        || resp.status() == StatusCode::FORBIDDEN =>
                {
                    return Err(RegistryError::Unauthorized {
                        url: url.to_string(),
                        status: resp.status().as_u16(),
                    });
                }
                Ok(resp)
                    if (resp.status() == StatusCode::TOO_MANY_REQUESTS
                        || resp.status().is_server_error())
                        && attempt < ATTEMPTS =>
                {
                    resp.headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s.min(10)))
                }
                Ok(resp)
                    if resp.status().is_server_error()
                        || resp.status() == StatusCode::TOO_MANY_REQUESTS =>
                {
                    let status = resp.status().as_u16();
                    return Err(RegistryError::Status {
                        method,
                        url: url.to_string(),
                        status,
                        message: format!(
                            "still failing after {ATTEMPTS} attempts ({}); try again later",
                            error_text(resp).await
                        ),
                    });
                }
                Ok(resp) => return Ok(resp),
            };
            let pause = retry_after.unwrap_or(self.backoff * 2u32.pow(attempt - 1));
            tokio::time::sleep(pause).await;
        }
    }

    /// Gets a token from the realm of a bearer challenge (with the
    /// credentials, when there are any).
    async fn fetch_token(&self, url: &str, c: &Challenge) -> Result<(), RegistryError> {
        let mut query = Vec::new();
        if let Some(s) = &c.service {
            query.push(format!("service={}", encode(s)));
        }
        if let Some(s) = &c.scope {
            query.push(format!("scope={}", encode(s)));
        }
        let sep = if c.realm.contains('?') { '&' } else { '?' };
        let realm = if query.is_empty() {
            c.realm.clone()
        } else {
            format!("{}{sep}{}", c.realm, query.join("&"))
        };
        let mut rb = self.http.get(&realm);
        if let Some(cr) = &self.credentials {
            rb = rb.basic_auth(&cr.username, Some(&cr.password));
        }
        let resp = rb.send().await.map_err(|e| RegistryError::Unreachable {
            url: c.realm.clone(),
            message: e.to_string(),
        })?;
        if !resp.status().is_success() {
            return Err(RegistryError::Unauthorized {
                url: url.to_string(),
                status: resp.status().as_u16(),
            });
        }
        let body = read_bounded(resp, "the token", 1 << 20).await?;
        let doc: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| RegistryError::Invalid(format!("the token answer is not JSON: {e}")))?;
        let token = doc
            .get("token")
            .or_else(|| doc.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| RegistryError::Invalid("the token answer has no token".into()))?;
        if let Ok(mut t) = self.token.lock() {
            *t = Some(token.to_string());
        }
        Ok(())
    }

    /// Whether the registry holds a blob.
    async fn has_blob(&self, repo: &str, digest: &str) -> Result<bool, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let resp = self.send("HEAD", &url, || self.http.head(&url)).await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(status_error("HEAD", &url, s, resp).await),
        }
    }

    /// Uploads a blob unless the registry has it: one POST and one PUT, or
    /// PATCHes of [`CHUNK_BYTES`] for larger blobs.
    pub async fn upload(&self, repo: &str, bytes: &[u8]) -> Result<Descriptor, RegistryError> {
        let d = Descriptor::of("application/octet-stream", bytes);
        if self.has_blob(repo, &d.digest).await? {
            return Ok(d);
        }
        let start = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let resp = self
            .send("POST", &start, || {
                self.http.post(&start).header(CONTENT_LENGTH, "0")
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(status_error("POST", &start, resp.status(), resp).await);
        }
        let mut location = self.location_of(&resp, &start)?;
        if bytes.len() > CHUNK_BYTES {
            let mut offset = 0;
            for chunk in bytes.chunks(CHUNK_BYTES) {
                let end = offset + chunk.len() - 1;
                let at = location.clone();
                let resp = self
                    .send("PATCH", &at, || {
                        self.http
                            .request(Method::PATCH, &at)
                            .header(CONTENT_TYPE, "application/octet-stream")
                            .header("Content-Range", format!("{offset}-{end}"))
                            .body(chunk.to_vec())
                    })
                    .await?;
                if resp.status() != StatusCode::ACCEPTED {
                    return Err(status_error("PATCH", &at, resp.status(), resp).await);
                }
                location = self.location_of(&resp, &at)?;
                offset += chunk.len();
            }
            let done = with_digest(&location, &d.digest);
            let resp = self
                .send("PUT", &done, || {
                    self.http.put(&done).header(CONTENT_LENGTH, "0")
                })
                .await?;
            if resp.status() != StatusCode::CREATED {
                return Err(status_error("PUT", &done, resp.status(), resp).await);
            }
        } else {
            let done = with_digest(&location, &d.digest);
            let resp = self
                .send("PUT", &done, || {
                    self.http
                        .put(&done)
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .body(bytes.to_vec())
                })
                .await?;
            if resp.status() != StatusCode::CREATED {
                return Err(status_error("PUT", &done, resp.status(), resp).await);
            }
        }
        Ok(d)
    }

    fn location_of(&self, resp: &Response, url: &str) -> Result<String, RegistryError> {
        resp.headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| self.absolute(l))
            .ok_or_else(|| RegistryError::Status {
                method: "POST",
                url: url.to_string(),
                status: resp.status().as_u16(),
                message: "no Location for the upload".into(),
            })
    }

    /// Pushes the blobs (the empty config and each layer), then the
    /// manifest (by tag, or by digest).
    pub async fn push(
        &self,
        repo: &str,
        manifest: &Manifest,
        blobs: &[&[u8]],
        tag: Option<&str>,
    ) -> Result<Descriptor, RegistryError> {
        self.upload(repo, artifact::EMPTY_CONFIG).await?;
        for b in blobs {
            self.upload(repo, b).await?;
        }
        let (bytes, d) = manifest.encoded();
        let reference = tag.unwrap_or(&d.digest);
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let resp = self
            .send("PUT", &url, || {
                self.http
                    .put(&url)
                    .header(CONTENT_TYPE, MANIFEST_TYPE)
                    .body(bytes.clone())
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error("PUT", &url, resp.status(), resp).await);
        }
        Ok(d)
    }

    /// The manifest `reference` (a tag or a digest) names.
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(Manifest, Descriptor)>, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let resp = self
            .send("GET", &url, || {
                self.http.get(&url).header(ACCEPT, MANIFEST_TYPE)
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(status_error("GET", &url, resp.status(), resp).await);
        }
        let bytes = bounded(read_bounded(
            resp,
            &format!("manifest `{reference}`"),
            MAX_MANIFEST_BYTES,
        ))
        .await?;
        let d = Descriptor::of(MANIFEST_TYPE, &bytes);
        if reference.starts_with("sha256:") && d.digest != reference {
            return Err(RegistryError::DigestMismatch {
                what: format!("manifest `{reference}`"),
                expected: reference.to_string(),
                actual: d.digest,
            });
        }
        let m = Manifest::from_bytes(&bytes)?;
        Ok(Some((
            m.clone(),
            Descriptor {
                artifact_type: m.artifact_type,
                ..d
            },
        )))
    }

    /// A blob, bounded and checked against its descriptor.
    pub async fn blob(&self, repo: &str, d: &Descriptor) -> Result<Vec<u8>, RegistryError> {
        artifact::digest_hex(&d.digest)?;
        if d.size > MAX_BLOB_BYTES {
            return Err(RegistryError::TooLarge {
                what: format!("blob {}", d.digest),
                limit: MAX_BLOB_BYTES,
            });
        }
        let url = self.url(&format!("/v2/{repo}/blobs/{}", d.digest));
        let resp = self.send("GET", &url, || self.http.get(&url)).await?;
        if !resp.status().is_success() {
            return Err(status_error("GET", &url, resp.status(), resp).await);
        }
        let what = format!("blob {}", d.digest);
        let bytes = bounded(read_bounded(resp, &what, d.size)).await?;
        check_content(&what, d, &bytes)?;
        Ok(bytes)
    }

    /// Every tag of `repo`, following the `Link` pages; none for a
    /// repository the registry does not know.
    pub async fn tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        let mut out = Vec::new();
        let mut next = Some(self.url(&format!("/v2/{repo}/tags/list?n=1000")));
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > 1000 {
                return Err(RegistryError::Invalid(format!(
                    "{repo}: more than a million tags"
                )));
            }
            let resp = self.send("GET", &url, || self.http.get(&url)).await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Ok(out);
            }
            if !resp.status().is_success() {
                return Err(status_error("GET", &url, resp.status(), resp).await);
            }
            next = resp
                .headers()
                .get("link")
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.split(';').next())
                .map(|l| self.absolute(l.trim().trim_start_matches('<').trim_end_matches('>')));
            let body = bounded(read_bounded(resp, "the tag list", MAX_MANIFEST_BYTES)).await?;
            let doc: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| RegistryError::Invalid(format!("the tag list is not JSON: {e}")))?;
            if let Some(tags) = doc.get("tags").and_then(|t| t.as_array()) {
                out.extend(tags.iter().filter_map(|t| t.as_str()).map(str::to_string));
            }
        }
        Ok(out)
    }

    /// The referrers of `digest`; `None` when the registry has no
    /// referrers API.
    pub async fn referrers(
        &self,
        repo: &str,
        digest: &str,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        artifact::digest_hex(digest)?;
        let url = self.url(&format!("/v2/{repo}/referrers/{digest}"));
        let resp = self
            .send("GET", &url, || {
                self.http
                    .get(&url)
                    .header(ACCEPT, "application/vnd.oci.image.index.v1+json")
            })
            .await?;
        let is_index = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/vnd.oci.image.index.v1+json"));
        if !resp.status().is_success() || !is_index {
            return Ok(None);
        }
        let body = bounded(read_bounded(resp, "the referrers", MAX_MANIFEST_BYTES)).await?;
        let doc: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| RegistryError::Invalid(format!("the referrers are not JSON: {e}")))?;
        let list = doc
            .get("manifests")
            .cloned()
            .map(serde_json::from_value::<Vec<Descriptor>>)
            .transpose()
            .map_err(|e| RegistryError::Invalid(format!("the referrers: {e}")))?
            .unwrap_or_default();
        Ok(Some(list))
    }
}

/// A query value percent-encoded (unreserved characters kept).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `location` with `digest=` added to its query.
fn with_digest(location: &str, digest: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

/// The download bounded in time.
async fn bounded<T>(
    f: impl std::future::Future<Output = Result<T, RegistryError>>,
) -> Result<T, RegistryError> {
    tokio::time::timeout(Duration::from_secs(DOWNLOAD_SECONDS), f)
        .await
        .map_err(|_| RegistryError::Timeout {
            what: "a download".into(),
            seconds: DOWNLOAD_SECONDS,
        })?
}

/// Reads a body, refusing more than `limit` bytes (whatever it claims).
async fn read_bounded(
    mut resp: Response,
    what: &str,
    limit: u64,
) -> Result<Vec<u8>, RegistryError> {
    let too_large = || RegistryError::TooLarge {
        what: what.to_string(),
        limit,
    };
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| RegistryError::Unreachable {
        url: what.to_string(),
        message: e.to_string(),
    })? {
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

async fn error_text(resp: Response) -> String {
    let body = read_bounded(resp, "an error", 64 << 10)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    // The Distribution error body: {"errors": [{"code", "message"}]}.
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("errors")?.as_array().map(|errs| {
                errs.iter()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e.get("code").and_then(|c| c.as_str()).unwrap_or(""),
                            e.get("message").and_then(|c| c.as_str()).unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        })
        .unwrap_or_else(|| text.chars().take(200).collect())
}

async fn status_error(
    method: &'static str,
    url: &str,
    status: StatusCode,
    resp: Response,
) -> RegistryError {
    RegistryError::Status {
        method,
        url: url.to_string(),
        status: status.as_u16(),
        message: error_text(resp).await,
    }
}

/// A bearer challenge: `Bearer realm="…",service="…",scope="…"`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Challenge {
    realm: String,
    service: Option<String>,
    scope: Option<String>,
}

fn bearer_challenge(header: &str) -> Option<Challenge> {
    let rest = header.trim().strip_prefix("Bearer ")?;
    let mut realm = None;
    let mut service = None;
    let mut scope = None;
    // Values are quoted and may hold commas (scopes do): split by hand.
    let mut s = rest;
    while let Some(eq) = s.find('=') {
        let key = s[..eq].trim().trim_start_matches(',').trim();
        let after = &s[eq + 1..];
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match key {
            "realm" => realm = Some(value.to_string()),
            "service" => service = Some(value.to_string()),
            "scope" => scope = Some(value.to_string()),
            _ => {}
        }
        s = tail;
    }
    Some(Challenge {
        realm: realm?,
        service,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_read_with_their_quoted_commas() {
        let c = bearer_challenge(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/x:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.realm, "https://auth.example.com/token");
        assert_eq!(c.service.as_deref(), Some("registry.example.com"));
        assert_eq!(c.scope.as_deref(), Some("repository:team/x:pull,push"));
        assert!(bearer_challenge(r#"Basic realm="x""#).is_none());
        assert!(bearer_challenge(r#"Bearer service="x""#).is_none());
    }

    #[test]
    fn the_digest_joins_the_upload_location_query() {
        assert_eq!(
            with_digest("http://r/v2/x/blobs/uploads/u?_state=abc", "sha256:00"),
            "http://r/v2/x/blobs/uploads/u?_state=abc&digest=sha256:00"
        );
        assert_eq!(
            with_digest("http://r/u", "sha256:00"),
            "http://r/u?digest=sha256:00"
        );
    }

    #[test]
    fn credentials_do_not_print_their_password() {
        let c = Credentials {
            username: "ci".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
