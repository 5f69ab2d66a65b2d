//! The `webhook-signature` header of Standard Webhooks: `v1,` and the base64 of
//! HMAC-SHA256(key, `<webhook-id>.<webhook-timestamp>.<body>`), the key being `WEBHOOK_SECRET`
//! without its `whsec_` prefix, base64-decoded. Receivers check it with the specification's
//! libraries (the tests use the official Python one).

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header value for message `id` sent at `timestamp` (Unix seconds) with `body`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length; new_from_slice cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return String::new() };
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("v1,{signature}")
}

#[cfg(test)]
mod tests {
    use super::sign;
    use base64::Engine;

    /// The example of the Standard Webhooks reference libraries' test suites.
    #[test]
    fn matches_the_specifications_example() {
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
