//! A JS callback as the body of the core's `Tcc::run`, `Xa::run` and
//! `Msg::do_and_submit`: the core awaits the Promise it returns and decides what follows;
//! what the callback threw is kept, to be thrown again with the core's notes on it.

use crate::convert::{strings, thrown_error, to_js};
use dtmx_bindings::{Error, Result};
use js_sys::{Function, Promise, Reflect};
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

/// A JS body and the value it threw, once it has.
#[derive(Clone)]
pub struct Body {
    callback: Function,
    thrown: Rc<RefCell<Option<JsValue>>>,
}

impl Body {
    /// The body `callback` (returning a value or a Promise).
    pub fn new(callback: Function) -> Body {
        Body {
            callback,
            thrown: Rc::default(),
        }
    }

    /// Calls the body with `arg` and awaits it: its resolved value, or what the core
    /// sees of what it threw ([`thrown_error`]), the thrown value kept.
    pub async fn call(self, arg: JsValue) -> Result<JsValue> {
        let settled = match self.callback.call1(&JsValue::NULL, &arg) {
            Ok(v) => JsFuture::from(Promise::resolve(&v)).await,
            Err(e) => Err(e),
        };
        settled.map_err(|reason| {
            let e = thrown_error(&reason);
            *self.thrown.borrow_mut() = Some(reason);
            e
        })
    }

    /// The Promise of `run` (the core's run around this body): its value, or the value
    /// the body threw with the core error's notes as its `notes` (the core's error is the
    /// body's, notes added), or else the core's error as a dtmx error.
    pub fn promise<F>(&self, run: F) -> Promise
    where
        F: Future<Output = Result<JsValue>> + 'static,
    {
        let thrown = self.thrown.clone();
        future_to_promise(async move {
            run.await.map_err(|e| match thrown.borrow_mut().take() {
                Some(original) => with_notes(original, &e),
                None => to_js(e),
            })
        })
    }
}

/// `original` with `notes` set to the notes of `e` (a primitive is thrown as it is).
pub fn with_notes(original: JsValue, e: &Error) -> JsValue {
    if original.is_object() || original.is_function() {
        let _ = Reflect::set(&original, &"notes".into(), &strings(e.notes()).into());
    }
    original
}
