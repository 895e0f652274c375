//! Route registration that remembers what it registered: `configure` adds every route
//! through a `RouteTable`, so `registered_routes()` lists the real (method, path) pairs
//! (the OpenAPI test compares them with the spec, both ways).

use crate::error::ApiError;
use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, Handler, HttpResponse, Responder, ResponseError, web};
use std::cell::RefCell;
use std::rc::Rc;

/// Registers resources under a path prefix and records each (method, full path).
#[derive(Clone, Default)]
pub struct RouteTable {
    prefix: String,
    seen: Rc<RefCell<Vec<(Method, String)>>>,
}

impl RouteTable {
    /// The same table for routes inside `web::scope(prefix)`.
    pub fn scope(&self, prefix: &str) -> RouteTable {
        RouteTable {
            prefix: format!("{}{prefix}", self.prefix),
            seen: self.seen.clone(),
        }
    }

    /// The path prefix, for `web::scope`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A resource at `path` (relative to the prefix); other methods answer 405 in our
    /// shape, with the `Allow` header HTTP asks for.
    pub fn at(&self, path: &str) -> Res {
        Res {
            path: format!("{}{path}", self.prefix),
            seen: self.seen.clone(),
            allowed: Vec::new(),
            inner: web::resource(path),
        }
    }

    /// Every (method, full path) registered so far, in registration order.
    pub fn routes(&self) -> Vec<(Method, String)> {
        self.seen.borrow().clone()
    }
}

/// One resource being registered; pass it to `.service()`, or call `.resource()` to
/// wrap middleware around it.
pub struct Res {
    path: String,
    seen: Rc<RefCell<Vec<(Method, String)>>>,
    /// The methods this path answers, HEAD included: the 405's `Allow` header.
    allowed: Vec<Method>,
    inner: actix_web::Resource,
}

impl Res {
    /// Routes `method` on this path to `handler`.
    pub fn route<F, Args>(self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.seen
            .borrow_mut()
            .push((method.clone(), self.path.clone()));
        self.answer(method, handler)
    }

    /// Routes `method` to `handler` without recording it: HEAD, which HTTP implies
    /// wherever GET is, so the spec does not list it.
    fn answer<F, Args>(mut self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.allowed.push(method.clone());
        self.inner = self.inner.route(web::method(method).to(handler));
        self
    }

    /// GET, and HEAD with it (RFC 9110 §9.3.2): the same handler, and actix sends the
    /// headers without the body (for monitors and caches that probe with HEAD).
    pub fn get<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::GET, handler.clone())
            .answer(Method::HEAD, handler)
    }

    pub fn post<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::POST, handler)
    }

    pub fn put<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::PUT, handler)
    }

    pub fn patch<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::PATCH, handler)
    }

    pub fn delete<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::DELETE, handler)
    }

    /// The actix resource, e.g. to `.wrap()` middleware around it.
    pub fn resource(self) -> actix_web::Resource {
        let allow = self
            .allowed
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        self.inner
            .app_data(ServedMethods(self.allowed))
            .default_service(web::to(move || method_not_allowed(allow.clone())))
    }
}

/// The methods a resource answers, for its middleware: a request in another method gets
/// 405 and did nothing, so the write limit does not count it.
pub struct ServedMethods(Vec<Method>);

impl ServedMethods {
    pub fn serves(&self, method: &Method) -> bool {
        self.0.contains(method)
    }
}

impl HttpServiceFactory for Res {
    fn register(self, config: &mut AppService) {
        self.resource().register(config)
    }
}

/// 405 in our shape, with `Allow` naming the methods the path answers (RFC 9110 §15.5.6).
async fn method_not_allowed(allow: String) -> HttpResponse {
    let mut res = ApiError::MethodNotAllowed.error_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        res.headers_mut().insert(header::ALLOW, value);
    }
    res
}
