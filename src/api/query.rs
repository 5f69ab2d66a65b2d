//! The path's id and the query string's parameters.

use super::ApiRequest;
use crate::error::Error;

impl ApiRequest {
    /// The numeric id in the path (`/me/sessions/42` → 42, `/admin/users/7/disable` → 7; routes
    /// have at most one). Errors: 404 for anything else (the route matched only the shape of the
    /// path), including ids beyond 18 digits.
    pub fn path_id(&self) -> Result<i64, Error> {
        let segment =
            self.path.split('/').find(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
        segment.filter(|s| s.len() <= 18).and_then(|s| s.parse().ok()).ok_or(Error::NotFound)
    }

    /// The `n`th segment of the path (`/idp/corp/callback`: 1 is `idp`, 2 is `corp`), if any.
    pub fn path_segment(&self, n: usize) -> Option<&str> {
        self.path.split('?').next().unwrap_or("").split('/').nth(n).filter(|s| !s.is_empty())
    }

    /// The value of query parameter `name`, percent-decoded (`+` stays `+`: an email's plus sign
    /// need not be escaped); the first if repeated; `None` if absent or empty. Errors: 400
    /// `invalid_request` if it does not decode to UTF-8.
    pub fn query_param(&self, name: &str) -> Result<Option<String>, Error> {
        let Some(raw) = self.query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        }) else {
            return Ok(None);
        };
        let decoded =
            percent_decode(raw).filter(|v| !v.chars().any(char::is_control)).ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "Query parameter `{name}` must be percent-encoded UTF-8 without control characters."
                ))
            })?;
        Ok(Some(decoded).filter(|v| !v.is_empty()))
    }

    /// Query parameter `name` as a whole number in `range`, or `default` when absent. Errors: 400
    /// `invalid_request` naming the parameter and the range.
    pub fn number_param(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
        default: Option<i64>,
    ) -> Result<Option<i64>, Error> {
        match self.query_param(name)? {
            None => Ok(default),
            Some(value) => {
                value.parse().ok().filter(|n| range.contains(n)).map(Some).ok_or_else(|| {
                    Error::InvalidRequest(format!(
                        "Query parameter `{name}` must be a whole number from {} to {}.",
                        range.start(),
                        range.end()
                    ))
                })
            }
        }
    }
}

/// Page size of a list when `limit` is absent.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest page of a list.
pub const MAX_LIMIT: i64 = 100;

impl ApiRequest {
    /// A list's page size (`limit`, 1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]) and cursor
    /// (`after`: the `next` of the previous page). Errors: 400 `invalid_request`.
    pub fn page(&self) -> Result<(i64, Option<i64>), Error> {
        let limit = self.number_param("limit", 1..=MAX_LIMIT, Some(DEFAULT_LIMIT))?;
        let after = self.number_param("after", 0..=i64::MAX, None)?;
        Ok((limit.unwrap_or(DEFAULT_LIMIT), after))
    }
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_plus_and_refuses_broken_escapes() {
        assert_eq!(percent_decode("a%40b+c%C3%A9").as_deref(), Some("a@b+cé"));
        for bad in ["%", "%4", "%zz", "%ff"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_and_parameters_come_from_the_path_and_the_query() {
        let request = ApiRequest {
            path: "/admin/users/42/disable".into(),
            query: "limit=5&email_prefix=a%2Bb&x".into(),
            ..ApiRequest::default()
        };
        assert_eq!(request.path_id(), Ok(42));
        assert_eq!(request.number_param("limit", 1..=100, None), Ok(Some(5)));
        assert_eq!(request.query_param("email_prefix").unwrap().as_deref(), Some("a+b"));
        assert_eq!(request.query_param("x"), Ok(None));
        let long = ApiRequest { path: "/me/sessions/1234567890123456789".into(), ..request };
        assert_eq!(long.path_id(), Err(Error::NotFound));
    }
}
