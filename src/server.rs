//! The HTTP server's defences against slow and numerous clients: how long a request's head
//! and body may take, how long a connection may sit with no byte moving, how many requests
//! run at once; and the accept loop, which stops accepting and drains on shutdown.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::IntoResponse;
use axum::{BoxError, Router};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// What a client may take and how many may be served at once (`BALAS_*_TIMEOUT_SECS`,
/// `BALAS_MAX_IN_FLIGHT`).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// From the connection (or its previous response) to the end of the request head.
    pub header_timeout: Duration,
    /// From the end of the head to the end of the body, however it trickles in.
    pub body_timeout: Duration,
    /// No byte read or written for this long closes the connection (e.g. a response nobody reads).
    pub idle_timeout: Duration,
    /// Requests handled at once; more are answered 503 with `Retry-After`.
    pub max_in_flight: usize,
    /// Where the client address for login limits comes from.
    pub client_ip: crate::client_ip::ClientIp,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_in_flight: 512,
            client_ip: crate::client_ip::ClientIp::default(),
        }
    }
}

/// Seconds a shed client is told to wait; providers retry on their own schedule anyway.
const RETRY_AFTER_SECS: &str = "1";

/// Wraps `routes` so that at most `max_in_flight` of their requests run at once; the rest are
/// answered 503 at once instead of queueing (one semaphore shared by every route).
pub fn bound_in_flight(routes: Router, limits: &ServerLimits, metrics: Arc<Metrics>) -> Router {
    let shed = move |_: BoxError| {
        let metrics = metrics.clone();
        async move {
            metrics.request_shed();
            let error = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "the server is handling as many requests as it may; retry shortly",
            );
            ([(RETRY_AFTER, RETRY_AFTER_SECS)], error).into_response()
        }
    };
    routes.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(shed))
            .load_shed()
            .layer(GlobalConcurrencyLimitLayer::new(limits.max_in_flight.max(1))),
    )
}

/// Gives every request body `body_timeout` from now to arrive in full.
pub fn bound_bodies(routes: Router, limits: &ServerLimits) -> Router {
    let timeout = limits.body_timeout;
    routes.layer(axum::middleware::map_request(move |request: Request| async move {
        let (parts, body) = request.into_parts();
        let deadline = Box::pin(tokio::time::sleep(timeout));
        Request::from_parts(parts, Body::new(DeadlineBody { inner: body, deadline }))
    }))
}

/// The body did not arrive within the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the body timeout")]
pub struct BodyTimedOut;

/// A body that fails with [`BodyTimedOut`] once its deadline passes with data still missing.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(BoxError::from)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The answer to a body that could not be read: 408 when it was too slow, else 400.
pub fn body_error(error: axum::Error) -> ApiError {
    if error.into_inner().downcast_ref::<BodyTimedOut>().is_some() {
        ApiError::new(StatusCode::REQUEST_TIMEOUT, "body_timeout", "the request body did not arrive in time")
    } else {
        ApiError::bad_request("unreadable_body", "the request body could not be read")
    }
}

/// Serves `app` on `listener` until `stop`, then closes the listener and waits for the open
/// connections to finish their requests (the caller bounds that wait).
pub async fn accept(listener: TcpListener, app: Router, limits: ServerLimits, stop: CancellationToken) {
    // HTTP/1.1 only, as the providers and Fly's proxy speak: no version sniffing to wait on.
    let mut builder = http1::Builder::new();
    // hyper starts this timer whenever it waits for a head, so it also ends idle keep-alives.
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, remote) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    pause_after_accept_error(&e).await;
                    continue;
                }
            },
        };
        let mut io = TimeoutStream::new(stream);
        io.set_read_timeout(Some(limits.idle_timeout));
        io.set_write_timeout(Some(limits.idle_timeout));
        let app = app.clone();
        let service = tower::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            tower::ServiceExt::oneshot(app.clone(), request)
        });
        let connection = builder.serve_connection(TokioIo::new(Box::pin(io)), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Timeouts and resets end connections all the time; nothing here is actionable.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A client that gave up before we accepted is normal; anything else (such as running out of
/// file descriptors) is logged and retried after a pause instead of spinning.
async fn pause_after_accept_error(error: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(error.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        tracing::error!(error = %error, "accepting a connection failed; pausing");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
