//! The request an audit event is recorded for: client IP and request id.
//!
//! Each request is served start to finish by one worker thread, so the HTTP layer sets the context
//! for the thread while its handler runs ([`scope`]) and the statements that record events read
//! it ([`current`]), without threading it through every use case. Outside a request (the
//! background worker, the `admin` subcommand) it is empty.

use std::cell::RefCell;

/// Where a request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The client IP as the service sees it (see `TRUST_X_FORWARDED_FOR`).
    pub client_ip: Option<String>,
    /// The request's `X-Request-Id`.
    pub request_id: Option<String>,
}

thread_local! {
    static CURRENT: RefCell<Context> = RefCell::new(Context::default());
}

/// Runs `f` with `context` as the current context, then clears it (also when `f` panics).
pub fn scope<T>(context: Context, f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|c| *c.borrow_mut() = Context::default());
        }
    }
    CURRENT.with(|c| *c.borrow_mut() = context);
    let _reset = Reset;
    f()
}

/// The current request's context (empty outside a request).
pub fn current() -> Context {
    CURRENT.with(|c| c.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_lives_exactly_as_long_as_its_scope() {
        let ctx = Context { client_ip: Some("192.0.2.1".into()), request_id: Some("r1".into()) };
        assert_eq!(scope(ctx.clone(), current), ctx);
        assert_eq!(current(), Context::default());
        let _ = std::panic::catch_unwind(|| scope(ctx, || panic!("handler")));
        assert_eq!(current(), Context::default(), "cleared after a panic too");
    }
}
