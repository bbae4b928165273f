//! Injected time: a [`Clock`] to read the wall clock and a [`Sleeper`] to wait.
//!
//! `std::time::SystemTime::now()`, `Instant::now()` and `tokio::time` panic or do not exist
//! on wasm32-unknown-unknown, so the core only reads time through these traits.

use super::{BoxFuture, MaybeSendSync};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Reads the wall clock.
pub trait Clock: MaybeSendSync {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;
}

/// Waits.
pub trait Sleeper: MaybeSendSync {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// A clock that only moves when told to (tests, or hosts without a clock).
#[derive(Debug, Default)]
pub struct ManualClock {
    millis: AtomicU64,
}

impl ManualClock {
    /// A clock showing `millis` since the Unix epoch.
    pub fn new(millis: u64) -> ManualClock {
        ManualClock {
            millis: AtomicU64::new(millis),
        }
    }

    /// Sets the time.
    pub fn set(&self, millis: u64) {
        self.millis.store(millis, Ordering::Relaxed);
    }

    /// Moves the time forward by `duration`.
    pub fn advance(&self, duration: Duration) {
        let add = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        self.millis.fetch_add(add, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        self.millis.load(Ordering::Relaxed)
    }
}

/// The target's wall clock: `SystemTime` on native targets, `Date.now()` on wasm32 (there
/// only with the `client` feature).
#[cfg(any(not(target_arch = "wasm32"), feature = "client"))]
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or_default()
    }
}

#[cfg(all(target_arch = "wasm32", feature = "client"))]
impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        let now = js_sys::Date::now();
        if now.is_finite() && now > 0.0 {
            now as u64
        } else {
            0
        }
    }
}

/// Sleeps on the tokio timer (native targets, feature `client`; needs a tokio runtime with
/// the time driver enabled).
#[cfg(all(not(target_arch = "wasm32"), feature = "client"))]
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

#[cfg(all(not(target_arch = "wasm32"), feature = "client"))]
impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Sleeps with the JavaScript global `setTimeout` (browsers, Node.js, Deno, Workers;
/// wasm32, feature `client`).
#[cfg(all(target_arch = "wasm32", feature = "client"))]
#[derive(Debug, Default, Clone, Copy)]
pub struct JsSleeper;

#[cfg(all(target_arch = "wasm32", feature = "client"))]
impl Sleeper for JsSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        use wasm_bindgen::JsCast;
        let millis = f64::from(u32::try_from(duration.as_millis()).unwrap_or(u32::MAX));
        let promise = js_sys::Promise::new(&mut |resolve, reject| {
            let set_timeout = js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into())
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
            match set_timeout {
                Some(f) => {
                    if f.call2(&wasm_bindgen::JsValue::NULL, &resolve, &millis.into())
                        .is_err()
                    {
                        let _ = reject.call0(&wasm_bindgen::JsValue::NULL);
                    }
                }
                None => {
                    let _ = reject.call0(&wasm_bindgen::JsValue::NULL);
                }
            }
        });
        Box::pin(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        })
    }
}

/// The target's clock: `SystemClock` where there is one, else a [`ManualClock`] at the
/// epoch (inject a real one).
pub fn default_clock() -> Arc<dyn Clock> {
    #[cfg(any(not(target_arch = "wasm32"), feature = "client"))]
    {
        Arc::new(SystemClock)
    }
    #[cfg(not(any(not(target_arch = "wasm32"), feature = "client")))]
    {
        Arc::new(ManualClock::new(0))
    }
}

/// The target's sleeper with the `client` feature (`TokioSleeper` or `JsSleeper`);
/// `None` without it.
pub fn default_sleeper() -> Option<Arc<dyn Sleeper>> {
    #[cfg(all(not(target_arch = "wasm32"), feature = "client"))]
    {
        Some(Arc::new(TokioSleeper))
    }
    #[cfg(all(target_arch = "wasm32", feature = "client"))]
    {
        Some(Arc::new(JsSleeper))
    }
    #[cfg(not(feature = "client"))]
    {
        None
    }
}
