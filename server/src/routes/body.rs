//! Request bodies as the handlers read them: a stream that fails once the client stalls longer
//! than `server.body_idle_timeout_secs` (so a client that stops sending cannot hold a request, an
//! upload session or a worker), and the whole-body read of JSON and form bodies, bounded by
//! `MAX_READ_BODY`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::web::{self, Bytes, BytesMut};
use actix_web::HttpRequest;
use futures::{Stream, StreamExt};
use tokio::time::{Instant, Sleep};

/// How long a request body may stall between two chunks (`server.body_idle_timeout_secs`; `None`
/// waits forever).
#[derive(Clone, Copy, Debug)]
pub struct BodyIdle(pub Option<Duration>);

/// A request body that ends with an error when no bytes arrive for the idle period.
pub struct Body {
    payload: web::Payload,
    idle: Option<Duration>,
    /// Armed when the body first waits for the client (a request without a body never needs it).
    timer: Option<Pin<Box<Sleep>>>,
    /// Set once the body stalled: it then ends.
    stalled: bool,
}

impl Body {
    /// The request's body with the server's idle limit.
    pub fn new(req: &HttpRequest, payload: web::Payload) -> Body {
        let idle = req.app_data::<web::Data<BodyIdle>>().and_then(|b| b.0);
        Body {
            payload,
            idle,
            timer: None,
            stalled: false,
        }
    }

    /// Reads the whole body, at most `limit` bytes: `Err(None)` when larger, `Err(Some(e))` when it
    /// fails or stalls.
    pub async fn read_to_limit(mut self, limit: usize) -> Result<Bytes, Option<std::io::Error>> {
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk.map_err(Some)?;
            if buf.len().saturating_add(chunk.len()) > limit {
                return Err(None);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }
}

impl Stream for Body {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.stalled {
            return Poll::Ready(None);
        }
        match this.payload.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(b))) => {
                if let (Some(d), Some(timer)) = (this.idle, this.timer.as_mut()) {
                    if let Some(deadline) = Instant::now().checked_add(d) {
                        timer.as_mut().reset(deadline);
                    }
                }
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(std::io::Error::other(e.to_string())))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let Some(d) = this.idle else {
                    return Poll::Pending;
                };
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(d)));
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let secs = d.as_secs();
                this.stalled = true;
                Poll::Ready(Some(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the request body stalled for {secs} s"),
                ))))
            }
        }
    }
}

/// The peer's IP address as text (empty when unknown).
pub fn peer_ip(req: &HttpRequest) -> String {
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()
}
