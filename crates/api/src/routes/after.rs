//! A tower layer that looks at each request on its way in and finishes its response on the way
//! out, without boxing or cloning anything per request: what the metrics (`track`), the route
//! template hand-over (`tag_route`) and the `Retry-After` of every 503 share. axum's `from_fn`
//! and `map_response` would do each too, but each clones its inner service and boxes a future
//! for every request, which a profile of `GET /health` found among the stack's largest costs.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::{Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// What a layer notes of a request, then does to its response.
pub trait Step: Clone {
    /// What it keeps of the request until the response.
    type Noted: Send;

    fn request<B>(&self, request: &Request<B>) -> Self::Noted;

    fn response<B>(noted: Self::Noted, response: &mut Response<B>);
}

/// The layer running `step` around every request.
#[derive(Clone, Copy, Debug, Default)]
pub struct AfterLayer<T>(pub T);

impl<S, T: Step> Layer<S> for AfterLayer<T> {
    type Service = After<S, T>;

    fn layer(&self, inner: S) -> After<S, T> {
        After { inner, step: self.0.clone() }
    }
}

#[derive(Clone, Debug)]
pub struct After<S, T> {
    inner: S,
    step: T,
}

impl<S, T, ReqB, ResB> Service<Request<ReqB>> for After<S, T>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    T: Step,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = Finishing<S::Future, T>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        let noted = self.step.request(&request);
        Finishing::new(self.inner.call(request), noted)
    }
}

pin_project! {
    /// The inner service's future, then the step on its response.
    pub struct Finishing<F, T: Step> {
        #[pin]
        inner: F,
        noted: Option<T::Noted>,
        step: PhantomData<fn() -> T>,
    }
}

impl<F, T: Step> Finishing<F, T> {
    /// `inner`, then `T`'s step on its response with what it `noted` of the request.
    pub fn new(inner: F, noted: T::Noted) -> Self {
        Finishing { inner, noted: Some(noted), step: PhantomData }
    }
}

impl<F, T, B, E> Future for Finishing<F, T>
where
    F: Future<Output = Result<Response<B>, E>>,
    T: Step,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut result = ready!(this.inner.poll(cx));
        if let (Ok(response), Some(noted)) = (&mut result, this.noted.take()) {
            T::response(noted, response);
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::HeaderValue;
    use tower::ServiceExt;

    use super::*;

    /// Copies the request's path into the response's `x-path`.
    #[derive(Clone)]
    struct EchoPath;

    impl Step for EchoPath {
        type Noted = String;

        fn request<B>(&self, request: &Request<B>) -> String {
            request.uri().path().to_owned()
        }

        fn response<B>(noted: String, response: &mut Response<B>) {
            let value = HeaderValue::from_str(&noted).unwrap();
            response.headers_mut().insert("x-path", value);
        }
    }

    #[tokio::test]
    async fn the_step_sees_the_request_and_finishes_its_response() {
        let inner = tower::service_fn(|_: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
        });
        let service = AfterLayer(EchoPath).layer(inner);
        let request = Request::get("/movies/7").body(Body::empty()).unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(response.headers()["x-path"], "/movies/7");
    }
}
