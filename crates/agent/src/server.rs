//! The agent's HTTP/1.1 server: hyper's connection handling with the
//! settings a decision service needs, and `POST /v1/decide` answered
//! without the router in between (it is most of the traffic); every other
//! route goes through the axum router of `http.rs`.
//!
//! - Slow clients are cut off (axum's own `serve` sets no timeout):
//!   `limits.read_timeout` (30 s by default) bounds the time to send a
//!   request's headers, the time to send its body (408 `timeout` after
//!   it), and how long a kept-alive connection may sit idle.
//! - At most `limits.max_connections` connections are served at once;
//!   past it, new ones wait in the listen queue until one closes (logged
//!   once each time the limit is reached), so a flood of idle connections
//!   cannot take more memory or file descriptors than that.
//! - Pipelined requests are answered together: the responses to the
//!   requests read in one go leave in one write.
//! - On stop, the listener closes, open connections finish the request in
//!   hand and close, and the server waits for them (at most
//!   [`DRAIN_TIMEOUT`]).

use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::http::{Method, Request, Response, StatusCode};
use axum::serve::Listener;
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};
use tower_service::Service as _;

use crate::agent::Agent;
use crate::config::MAX_BATCH_BYTES;
use crate::http;

/// How long a stop waits for open connections to finish.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// One connection's service: the decide fast path, else the router.
#[derive(Clone)]
struct Service {
    agent: Arc<Agent>,
    router: Router,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: Request<Incoming>) -> Answer {
        let limits = self.agent.config.limits;
        if request.method() == Method::POST && request.uri().path() == "/v1/decide" {
            let agent = Arc::clone(&self.agent);
            return Box::pin(async move {
                let limit = (limits.max_body_bytes, "limits.max_body_bytes");
                match read_body(request.into_body(), limit, limits.read_timeout).await {
                    Ok(body) => Ok(http::decide_bytes(&agent, &body)),
                    Err(refused) => Ok(refused),
                }
            });
        }
        let mut router = self.router.clone();
        if request.method() != Method::POST {
            return Box::pin(async move { router.call(request.map(Body::new)).await });
        }
        // Other bodies (a batch, a reload) are read here too, so the same
        // deadline holds for them.
        Box::pin(async move {
            let (head, body) = request.into_parts();
            let limit = if head.uri.path() == "/v1/decide/batch" {
                (MAX_BATCH_BYTES, "the batch limit")
            } else {
                (limits.max_body_bytes, "limits.max_body_bytes")
            };
            match read_body(body, limit, limits.read_timeout).await {
                Ok(body) => {
                    router
                        .call(Request::from_parts(head, Body::from(body)))
                        .await
                }
                Err(refused) => Ok(refused),
            }
        })
    }
}

/// A request's whole body, within `limit` bytes (the limit and its name)
/// and `timeout`; else the answer that refuses it.
async fn read_body(
    body: Incoming,
    (limit, limit_name): (usize, &str),
    timeout: Duration,
) -> Result<Bytes, Response<Body>> {
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Ok(Ok(body)) => Ok(body.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(http::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("the body is larger than {limit_name} ({limit} bytes)"),
        )),
        Ok(Err(e)) => Err(http::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("the body could not be read: {e}"),
        )),
        Err(_) => Err(http::error(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            &format!(
                "the body did not arrive within limits.read_timeout ({} ms); send it at once",
                timeout.as_millis()
            ),
        )),
    }
}

/// Serves `router` (with the decide fast path for `agent`) on `listener`
/// until `stop` completes, then drains open connections.
pub async fn serve<L>(
    mut listener: L,
    agent: Arc<Agent>,
    router: Router,
    stop: impl Future<Output = ()>,
) where
    L: Listener,
{
    // Connections watch `draining` for the stop and hold `open` while
    // they run: when every clone of `open` is gone, all have finished.
    let (drain, draining) = watch::channel(false);
    let (open, all_closed) = watch::channel(());
    let limits = agent.config.limits;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut full = false;
    let mut stop = pin!(stop);
    loop {
        // A connection is accepted only with a slot free: past the limit,
        // clients wait in the listen queue.
        if slots.available_permits() == 0 && !full {
            agent.log(
                "warn",
                "connection limit reached; new connections wait until one closes",
                serde_json::json!({"max_connections": limits.max_connections}),
            );
        }
        full = slots.available_permits() == 0;
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = &mut stop => break,
        };
        let Ok(slot) = slot else { break };
        let io = tokio::select! {
            (io, _) = listener.accept() => io,
            () = &mut stop => break,
        };
        let service = Service {
            agent: Arc::clone(&agent),
            router: router.clone(),
        };
        let mut draining = draining.clone();
        let open = open.subscribe();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.read_timeout)
                .pipeline_flush(true);
            let mut conn = pin!(builder.serve_connection(TokioIo::new(io), service));
            let stopping = async move {
                let _ = draining.wait_for(|d| *d).await;
            };
            tokio::select! {
                _ = conn.as_mut() => {}
                () = stopping => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(open);
            drop(slot);
        });
    }
    drop(listener);
    let _ = drain.send(true);
    drop(all_closed);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, open.closed()).await;
}
