//! A page render that stalls is rendered again instead of hanging the request.
//!
//! Leptos 0.8 server rendering can lose the wake-up that tells a `Suspense` its resources are
//! done; the render then waits forever and the browser gets nothing (upstream leptos issues
//! #4578, #4647 and #4851: 0.8.23 fixed one such race, not all). We met it in 11 of 150 runs of the
//! `auth_http` and `admin_users` integration suites at 12 threads on 2 busy cores. Pages render
//! whole (`SsrMode::Async`) in well under a second, so a `GET` for an HTML page that has produced
//! nothing after [`STALL`] is dropped and rendered once more; when that one stalls too, the
//! browser gets a 503 that says to reload, never a hang.
//!
//! The layer wraps everything in the leptos router: the pages, the not-found fallback and static
//! files, and the server functions. Only `GET`/`HEAD` are watched; every other method passes
//! straight through, and every server function is `POST` today (a `GET` server function that
//! changes something must not be added without taking it out of this layer). A page render
//! writes nothing but, when the page refuses the user, its `permission.denied` audit row: a
//! render that stalled after that and is rendered again records the denial twice. The dropped
//! render's data loads already in flight run to their end (they are tasks of their own), so a
//! render that is merely slow costs its queries twice. An HTML body is collected within the same
//! time limit (a stall can sit in the body as well as before the head); other bodies (static
//! files) stream as they are.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, Response, StatusCode};
use futures::future::BoxFuture;
use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service, ServiceExt};

/// How long the first render may take before it is rendered again.
pub const STALL: Duration = Duration::from_secs(10);
/// How long the second render may take before the request is answered with a 503.
pub const GIVE_UP: Duration = Duration::from_secs(20);

/// The largest HTML page collected in memory (a page over it is an error of its own).
const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;

/// Wraps the page routes in [`PageWatchdog`].
#[derive(Clone, Copy, Debug)]
pub struct PageWatchdogLayer {
    limits: [Duration; 2],
}

impl PageWatchdogLayer {
    /// [`STALL`] for the first render, [`GIVE_UP`] for the second.
    pub fn new() -> Self {
        Self::with_limits(STALL, GIVE_UP)
    }

    /// Other limits (the tests use short ones).
    pub fn with_limits(first: Duration, second: Duration) -> Self {
        Self {
            limits: [first, second],
        }
    }
}

impl Default for PageWatchdogLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for PageWatchdogLayer {
    type Service = PageWatchdog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PageWatchdog {
            inner,
            limits: self.limits,
        }
    }
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct PageWatchdog<S> {
    inner: S,
    limits: [Duration; 2],
}

impl<S> Service<Request<Body>> for PageWatchdog<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Every call drives a clone of its own to readiness (`oneshot`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return Box::pin(inner.oneshot(req));
        }
        let limits = self.limits;
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let mut body = Some(body);
            for (attempt, limit) in limits.into_iter().enumerate() {
                // A page `GET` has no body worth keeping: a retry gets an empty one.
                let req = Request::from_parts(parts.clone(), body.take().unwrap_or_default());
                match tokio::time::timeout(limit, render(inner.clone(), req)).await {
                    Ok(res) => return Ok(res),
                    Err(_) => tracing::warn!(
                        path = %parts.uri.path(),
                        attempt = attempt + 1,
                        limit_ms = limit.as_millis() as u64,
                        "page render stalled; dropped"
                    ),
                }
            }
            Ok(stalled())
        })
    }
}

/// Run the page service; an HTML answer is collected whole (so its stall counts too).
async fn render<S>(svc: S, req: Request<Body>) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    let Ok(res) = svc.oneshot(req).await;
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !html {
        return res;
    }
    let (parts, body) = res.into_parts();
    match axum::body::to_bytes(body, MAX_PAGE_BYTES).await {
        Ok(bytes) => Response::from_parts(parts, Body::from(bytes)),
        Err(e) => {
            tracing::error!(error = %e, "page body could not be read");
            let mut res = Response::new(Body::from("The page could not be rendered."));
            *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            res
        }
    }
}

/// The answer when both renders stalled: a plain page that says to reload.
fn stalled() -> Response<Body> {
    let head = format!(
        "<!DOCTYPE html><html lang=\"en\" data-theme=\"dark\"><head><meta charset=\"utf-8\">\
        <title>Halite</title><link rel=\"stylesheet\" href=\"{}\"></head>",
        crate::server::assets::bundle().css_href
    );
    let body = "<body>\
        <main class=\"content\"><div class=\"panel state-panel state-error\" role=\"alert\" data-test=\"render-stalled\">\
        <h1>This page took too long to render</h1><p>Nothing was changed. Reload the page to try again.</p>\
        <p><a class=\"button button-primary\" href=\"\">Reload</a></p>\
        </div></main></body></html>";
    let mut res = Response::new(Body::from(head + body));
    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A page service whose first `hangs` calls (`GET` or `POST`) never answer.
    fn page(hangs: usize, calls: Arc<AtomicUsize>) -> axum::Router {
        let answer = move |method: Method| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < hangs {
                    std::future::pending::<()>().await;
                }
                axum::response::Html(format!("<p>{method} {}</p>", n + 1))
            }
        };
        axum::Router::new()
            .route("/", axum::routing::get(answer.clone()).post(answer))
            .layer(PageWatchdogLayer::with_limits(
                Duration::from_millis(100),
                Duration::from_millis(200),
            ))
    }

    async fn send(router: axum::Router, method: Method) -> (StatusCode, String) {
        let req = Request::builder()
            .method(method)
            .uri("/")
            .body(Body::empty())
            .unwrap();
        let res = router.oneshot(req).await.unwrap();
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    /// One request to a fresh [`page`]: its status, body, and how often the handler ran.
    async fn serve(hangs: usize, method: Method) -> (StatusCode, String, usize) {
        let calls = Arc::new(AtomicUsize::new(0));
        let (status, body) = send(page(hangs, calls.clone()), method).await;
        (status, body, calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_page_that_renders_is_answered_once() {
        let (status, body, calls) = serve(0, Method::GET).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "<p>GET 1</p>"));
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn a_stalled_render_is_rendered_again() {
        let (status, body, calls) = serve(1, Method::GET).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "<p>GET 2</p>"));
        assert_eq!(calls, 2);
    }

    #[tokio::test]
    async fn two_stalls_answer_503_with_a_page_that_says_to_reload() {
        let t = std::time::Instant::now();
        let (status, body, calls) = serve(2, Method::GET).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("Reload the page"), "{body}");
        assert_eq!(calls, 2);
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }

    #[tokio::test]
    async fn other_methods_are_not_watched_or_repeated() {
        let (status, body, calls) = serve(0, Method::POST).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "<p>POST 1</p>"));
        assert_eq!(calls, 1);
        // A POST that hangs is left to its caller: neither repeated nor answered 503, long
        // after both limits (100 + 200 ms) have passed.
        let calls = Arc::new(AtomicUsize::new(0));
        let hung = tokio::time::timeout(
            Duration::from_millis(800),
            send(page(1, calls.clone()), Method::POST),
        )
        .await;
        assert!(hung.is_err(), "a hanging POST was answered: {hung:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn head_is_watched_like_get() {
        let (status, body, calls) = serve(1, Method::HEAD).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
        assert_eq!(calls, 2);
    }
}
