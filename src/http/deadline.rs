//! The body deadline: a request's whole body must arrive within `BODY_DEADLINE` of its
//! headers, or the answer is 408 and the connection is closed.
//!
//! actix times out a request's head (`client_request_timeout`), never its body: a client
//! that sends headers and half a body holds its connection, and a descriptor, for as long
//! as it likes, and a thousand of them starve the server. Done once here, around every
//! route, by wrapping the payload stream, so no handler has to remember it.
//!
//! The payload reader itself is kept alive until the response has been sent (`Kept`, the
//! response body that holds it). actix decides, when a response is done, whether the request
//! body was finished: an unfinished one it still holds a reader for closes the connection,
//! but one whose reader was dropped it goes on *draining*, and a chunked body that never
//! ends would be drained forever, with no timer at all.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use tokio::time::{Instant, Sleep};

/// From the end of the headers to the end of the body. A form or token request is a few
/// hundred bytes; ten seconds is generous for any real client on any real link.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// The `wrap_fn` middleware: gives every request that has a body a deadline for it.
pub fn body_deadline<S, B>(
    mut request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<Kept<EitherBody<B>>>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let expired = Rc::new(Cell::new(false));
    let mut keeper = None;
    if has_body(&request) {
        let payload = Rc::new(RefCell::new(request.take_payload()));
        keeper = Some(payload.clone());
        let limited = DeadlinePayload {
            inner: payload,
            deadline: Instant::now() + BODY_DEADLINE,
            timer: None,
            expired: expired.clone(),
        };
        let boxed: Pin<Box<dyn futures_core::Stream<Item = Result<Bytes, PayloadError>>>> =
            Box::pin(limited);
        request.set_payload(Payload::from(boxed));
    }
    let response = service.call(request);
    async move {
        let response = response.await?;
        // The handler saw a payload error (and answered 400, say); the truth is that the
        // client was too slow, and its connection must not be reused.
        let response = if expired.get() {
            response
                .into_response(BodyTooSlow.error_response())
                .map_into_right_body()
        } else {
            response.map_into_left_body()
        };
        Ok(response.map_body(|_, body| Kept {
            body: Box::pin(body),
            _payload: keeper,
        }))
    }
}

/// A response body that holds the request's payload reader until the body is done, so
/// that a request body the handler did not finish reading closes the connection instead
/// of being drained.
pub struct Kept<B> {
    body: Pin<Box<B>>,
    _payload: Option<Rc<RefCell<Payload>>>,
}

impl<B: MessageBody> MessageBody for Kept<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.body.as_mut().poll_next(context)
    }
}

/// A request with neither a length nor a transfer coding has no body to wait for.
fn has_body(request: &ServiceRequest) -> bool {
    let headers = request.headers();
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0")
}

/// The request's payload, ended with an error once the deadline has passed. The timer is
/// made only when the body is not all there at the first read, which for the small bodies
/// keyward takes is rare: most requests pay for no timer at all.
struct DeadlinePayload {
    inner: Rc<RefCell<Payload>>,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    expired: Rc<Cell<bool>>,
}

impl futures_core::Stream for DeadlinePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.expired.get() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut *this.inner.borrow_mut()).poll_next(context) {
            return Poll::Ready(item);
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(context) {
            Poll::Ready(()) => {
                this.expired.set(true);
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[derive(Debug)]
struct BodyTooSlow;

impl std::fmt::Display for BodyTooSlow {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "the request body did not arrive within {} seconds of its headers",
            BODY_DEADLINE.as_secs()
        )
    }
}

impl ResponseError for BodyTooSlow {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::REQUEST_TIMEOUT
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::RequestTimeout()
            .insert_header(("Cache-Control", "no-store"))
            .force_close()
            .content_type("text/plain; charset=utf-8")
            .body(self.to_string())
    }
}
