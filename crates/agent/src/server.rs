//! The agent's HTTP/1.1 server: hyper's connection handling with the
//! settings a decision service needs, and `POST /v1/decide` answered
//! without the router in between (it is most of the traffic); every other
//! route goes through the axum router of `http.rs`.
//!
//! - A client that sends its headers slowly is cut off after
//!   [`HEADER_READ_TIMEOUT`] (axum's own `serve` sets no timeout).
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
use axum::http::{Method, Request, Response, StatusCode};
use axum::serve::Listener;
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;
use tower_service::Service as _;

use crate::agent::Agent;
use crate::http;

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

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
        if request.method() == Method::POST && request.uri().path() == "/v1/decide" {
            let agent = Arc::clone(&self.agent);
            let limit = agent.config.limits.max_body_bytes;
            return Box::pin(async move {
                let body = match Limited::new(request.into_body(), limit).collect().await {
                    Ok(body) => body.to_bytes(),
                    Err(e) => return Ok(unread(&*e, limit)),
                };
                Ok(http::decide_bytes(&agent, &body))
            });
        }
        let mut router = self.router.clone();
        Box::pin(async move { router.call(request.map(Body::new)).await })
    }
}

/// The answer to a body that could not be read: too large, or cut off.
fn unread(e: &(dyn std::error::Error + Send + Sync + 'static), limit: usize) -> Response<Body> {
    if e.is::<http_body_util::LengthLimitError>() {
        http::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("the body is larger than limits.max_body_bytes ({limit} bytes)"),
        )
    } else {
        http::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("the body could not be read: {e}"),
        )
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
    let mut stop = pin!(stop);
    loop {
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
                .header_read_timeout(HEADER_READ_TIMEOUT)
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
        });
    }
    drop(listener);
    let _ = drain.send(true);
    drop(all_closed);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, open.closed()).await;
}
