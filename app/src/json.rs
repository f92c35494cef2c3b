//! JSON text in and out of the protocol's types, in one place. In the browser the page's own
//! `JSON.parse` and `JSON.stringify` handle the text and serde-wasm-bindgen moves the values
//! between JavaScript and Rust, so the bundles carry no JSON parser, number parsing or float
//! formatting of their own (serde_json's parser was the largest library in them). Elsewhere
//! (the server, the tests, the benchmark's generator): serde_json.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why a text is not the value asked for, or a value cannot be written: serde's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError(pub String);

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The value of type `T` that JSON `text` holds.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    #[cfg(feature = "browser")]
    {
        let value = js_sys::JSON::parse(text).map_err(|_| JsonError("not JSON".to_owned()))?;
        serde_wasm_bindgen::from_value(value).map_err(|e| JsonError(e.to_string()))
    }
    #[cfg(not(feature = "browser"))]
    {
        serde_json::from_str(text).map_err(|e| JsonError(e.to_string()))
    }
}

/// `value` as JSON text.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, JsonError> {
    #[cfg(feature = "browser")]
    {
        let value = to_js(value)?;
        js_sys::JSON::stringify(&value)
            .map(String::from)
            .map_err(|_| JsonError("cannot be written as JSON".to_owned()))
    }
    #[cfg(not(feature = "browser"))]
    {
        serde_json::to_string(value).map_err(|e| JsonError(e.to_string()))
    }
}

/// `value` as the JavaScript value `JSON.parse` would give for its JSON (objects, not `Map`s;
/// numbers, not `BigInt`s).
#[cfg(feature = "browser")]
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<wasm_bindgen::JsValue, JsonError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsonError(e.to_string()))
}
