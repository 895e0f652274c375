//! Route registration that remembers what it registered: `configure` adds every route
//! through a `RouteTable`, so `registered_routes()` lists the real (method, path) pairs
//! (the OpenAPI test compares them with the spec, both ways).

use crate::error::ApiError;
use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::Method;
use actix_web::{FromRequest, Handler, HttpResponse, Responder, web};
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

    /// A resource at `path` (relative to the prefix); other methods answer 405 in our shape.
    pub fn at(&self, path: &str) -> Res {
        Res {
            path: format!("{}{path}", self.prefix),
            seen: self.seen.clone(),
            inner: web::resource(path).default_service(web::to(method_not_allowed)),
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
    inner: actix_web::Resource,
}

impl Res {
    /// Routes `method` on this path to `handler`.
    pub fn route<F, Args>(mut self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.seen
            .borrow_mut()
            .push((method.clone(), self.path.clone()));
        self.inner = self.inner.route(web::method(method).to(handler));
        self
    }

    pub fn get<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::GET, handler)
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
        self.inner
    }
}

impl HttpServiceFactory for Res {
    fn register(self, config: &mut AppService) {
        self.inner.register(config)
    }
}

pub(super) async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}
