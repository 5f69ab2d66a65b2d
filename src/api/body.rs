//! Request bodies as typed structs: a handler names the shape it expects
//! (`#[derive(Deserialize)]`) and [`ApiRequest::json`] parses it once, with the contract's errors.

use super::ApiRequest;
use crate::error::Error;
use serde::de::DeserializeOwned;
use serde_json::Value;

impl ApiRequest {
    /// The body as `T`, parsed as JSON whatever the `Content-Type` (contract "HTTP conventions").
    ///
    /// Errors: 400 [`Error::InvalidJson`] when the body is not a JSON object; 400
    /// [`Error::InvalidRequest`] naming the field when one is missing or of another type. Fields
    /// `T` does not name are ignored.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let value = self.json_object()?;
        serde_path_to_error::deserialize(value).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner().to_string();
            Error::InvalidRequest(match missing_field(&inner) {
                Some(name) => format!("Field `{name}` is required."),
                None => format!("Field `{field}` must be a string."),
            })
        })
    }

    /// The body as a JSON object, for the one endpoint that refuses unknown fields
    /// (`PATCH /me`). Errors: 400 [`Error::InvalidJson`].
    pub fn json_object(&self) -> Result<Value, Error> {
        match serde_json::from_slice(&self.body) {
            Ok(value @ Value::Object(_)) => Ok(value),
            _ => Err(Error::InvalidJson),
        }
    }
}

/// The field name of serde's "missing field `x`".
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Login {
        email: String,
        password: String,
    }

    fn request(body: &[u8]) -> ApiRequest {
        ApiRequest { body: body.to_vec(), ..ApiRequest::default() }
    }

    #[test]
    fn only_json_objects_are_bodies() {
        for bad in [&b""[..], b"null", b"[]", b"\"x\"", b"{", b"{\"a\":1}}", b"\xff"] {
            assert_eq!(request(bad).json::<Login>().unwrap_err(), Error::InvalidJson, "{bad:?}");
        }
        let login: Login = request(br#" {"email": "a", "password": "b", "x": 1} "#).json().unwrap();
        assert_eq!((login.email.as_str(), login.password.as_str()), ("a", "b"));
    }

    #[test]
    fn fields_must_be_present_strings_and_the_error_names_them() {
        let wrong_type = request(br#"{"email": 5, "password": "x"}"#).json::<Login>();
        assert_eq!(
            wrong_type.unwrap_err(),
            Error::InvalidRequest("Field `email` must be a string.".into())
        );
        let missing = request(br#"{"email": "a"}"#).json::<Login>();
        assert_eq!(
            missing.unwrap_err(),
            Error::InvalidRequest("Field `password` is required.".into())
        );
    }
}
