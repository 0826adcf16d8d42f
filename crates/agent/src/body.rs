//! How the server reads the bodies of `POST /v1/decide` and `POST
//! /v1/decide/batch` into the engine's typed `Request`s: the one reading
//! `http.rs` answers with, public so that the fuzz targets and tests read
//! bodies exactly as the server does (no IO, no engine here).

use gavel_policy::Request;
use serde_json::value::RawValue;

use crate::config::MAX_BATCH_REQUESTS;

/// Why a body was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is not UTF-8")]
    NotUtf8,
    /// Not a request (`/v1/decide`) or not `{"requests": [...]}` (a batch).
    #[error("{0}")]
    Invalid(String),
    #[error("{0} requests; a batch holds at most {MAX_BATCH_REQUESTS}")]
    TooMany(usize),
}

impl BodyError {
    /// The error code of the answer (`invalid_request`, `too_large`).
    pub fn code(&self) -> &'static str {
        match self {
            BodyError::NotUtf8 | BodyError::Invalid(_) => "invalid_request",
            BodyError::TooMany(_) => "too_large",
        }
    }
}

/// A `/v1/decide` body read: the request, and the body as text (the
/// decision log records it as sent).
#[derive(Debug, Clone, PartialEq)]
pub struct DecideBody<'a> {
    pub text: &'a str,
    pub request: Request<'a>,
}

/// Reads a `/v1/decide` body: UTF-8, then one request.
pub fn decode_decide_body(body: &[u8]) -> Result<DecideBody<'_>, BodyError> {
    let text = std::str::from_utf8(body).map_err(|_| BodyError::NotUtf8)?;
    let request = Request::from_json(text).map_err(|e| BodyError::Invalid(e.to_string()))?;
    Ok(DecideBody { text, request })
}

/// A batch body read.
#[derive(Debug, Clone, PartialEq)]
pub enum Batch<'a> {
    /// Every request read, in one pass.
    Whole(Vec<Request<'a>>),
    /// Read item by item, so that a request that does not read gets its
    /// error in its place: each item's text (the decision log records it
    /// as sent) and its request or the reason it does not read.
    Items(Vec<BatchItem<'a>>),
}

/// One request of a batch read item by item.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem<'a> {
    pub text: &'a str,
    pub request: Result<Request<'a>, String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Items<'a> {
    #[serde(borrow)]
    requests: Vec<&'a RawValue>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Requests<'a> {
    #[serde(borrow)]
    requests: Vec<Request<'a>>,
}

/// Reads a `/v1/decide/batch` body, `{"requests": [...]}` of at most
/// [`MAX_BATCH_REQUESTS`]: in one pass when `one_pass` and every request
/// reads (the server's way without a decision log), otherwise item by
/// item.
pub fn decode_batch_body(body: &[u8], one_pass: bool) -> Result<Batch<'_>, BodyError> {
    // Checked as UTF-8 once, so strings are not checked again one by one.
    let text = std::str::from_utf8(body).map_err(|_| BodyError::NotUtf8)?;
    if one_pass {
        if let Ok(batch) = serde_json::from_str::<Requests<'_>>(text) {
            let n = batch.requests.len();
            if n > MAX_BATCH_REQUESTS {
                return Err(BodyError::TooMany(n));
            }
            return Ok(Batch::Whole(batch.requests));
        }
    }
    let batch: Items<'_> = serde_json::from_str(text)
        .map_err(|e| BodyError::Invalid(format!("a batch is {{\"requests\": [...]}}: {e}")))?;
    let n = batch.requests.len();
    if n > MAX_BATCH_REQUESTS {
        return Err(BodyError::TooMany(n));
    }
    Ok(Batch::Items(
        batch
            .requests
            .into_iter()
            .map(|item| BatchItem {
                text: item.get(),
                request: Request::from_json(item.get()).map_err(|e| e.to_string()),
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_integer_past_2_53_is_a_bad_request_naming_the_field() {
        // 2^53 + 1 would be rounded to 2^53 (issue 26): refused, HTTP 400.
        let err = decode_decide_body(
            br#"{"agent":"a.b","action":"deploy","context":{"amount":9007199254740993}}"#,
        )
        .unwrap_err();
        assert_eq!(err.code(), "invalid_request");
        assert!(
            matches!(&err, BodyError::Invalid(m) if m.contains("`context.amount`")),
            "{err:?}"
        );
        // In a batch, the item that does not read gets its error in its
        // place; the others are decided.
        let body = br#"{"requests":[{"agent":"a.b","action":"deploy","context":{"n":1}},{"agent":"a.b","action":"deploy","context":{"n":-9007199254740993}}]}"#;
        let Ok(Batch::Items(items)) = decode_batch_body(body, true) else {
            panic!("a batch with a bad request is read item by item");
        };
        assert!(items.first().is_some_and(|i| i.request.is_ok()));
        assert!(
            items
                .get(1)
                .is_some_and(|i| i.request.as_ref().is_err_and(|e| e.contains("`context.n`"))),
            "{items:?}"
        );
    }
}
