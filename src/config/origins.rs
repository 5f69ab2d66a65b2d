//! `CORS_ALLOWED_ORIGINS`: the exact origins whose pages may call the API from a browser.

/// Parses `CORS_ALLOWED_ORIGINS`: comma-separated exact origins, `scheme://host[:port]` with
/// scheme `http` or `https` and nothing after the authority. `None` for anything else.
pub fn parse_origins(value: &str) -> Option<Vec<String>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            let rest =
                origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"))?;
            let shaped = !rest.is_empty()
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
            // Browsers leave the scheme's default port out of an Origin: so does the list.
            let origin = origin.to_ascii_lowercase();
            let origin = match origin.strip_suffix(":443").filter(|o| o.starts_with("https://")) {
                Some(bare) => bare.to_owned(),
                None => match origin.strip_suffix(":80").filter(|o| o.starts_with("http://")) {
                    Some(bare) => bare.to_owned(),
                    None => origin,
                },
            };
            shaped.then_some(origin)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_origins;

    #[test]
    fn origins_are_exact_schemes_and_authorities() {
        assert_eq!(
            parse_origins("https://app.example.com, http://localhost:5173").unwrap(),
            ["https://app.example.com", "http://localhost:5173"]
        );
        assert_eq!(parse_origins("").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_origins("https://A.example:443,http://b.example:80").unwrap(),
            ["https://a.example", "http://b.example"]
        );
        assert_eq!(parse_origins("https://a.example:8443").unwrap(), ["https://a.example:8443"]);
        for bad in [
            "*",
            "app.example.com",
            "https://app.example.com/",
            "https://a.com/path",
            "ftp://a.com",
            "https://",
        ] {
            assert!(parse_origins(bad).is_none(), "{bad}");
        }
    }
}
