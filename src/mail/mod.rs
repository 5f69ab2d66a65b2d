//! The mailer port and its three adapters (contract "Mail", and "Mail for production").
//!
//! - [`Mailer::Console`]: one JSON line on stdout with `"event":"mail"`, the recipient and the text.
//! - [`Mailer::Http`]: `POST` of Mailpit's send-API JSON to `MAIL_API_URL` (`http://` or
//!   `https://`, certificates verified), bounded by `MAIL_TIMEOUT_MS`; any 2xx is success.
//! - [`Mailer::Smtp`]: an SMTP server (`SMTP_URL`, [`smtp`]).

pub mod html;
mod message;
mod notice;
pub mod smtp;
pub mod templates;

pub use message::Message;
pub use notice::{Delivery, Notice, NoticeKind, load_templates};
pub use templates::Templates;

use crate::domain::Email;
use serde_json::json;
use std::fmt;

/// Bytes of a mail API's answer read (and dropped) so the connection can be reused.
const ANSWER_LIMIT: u64 = 64 * 1024;

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// Mail is written to stdout (development; the default).
    Console,
    /// Mail is posted to an HTTP send API.
    Http {
        /// `MAIL_API_URL`.
        url: String,
        /// `MAIL_FROM`.
        from: Email,
        /// Keep-alive, every request bounded by `MAIL_TIMEOUT_MS` (connect, send and answer).
        agent: ureq::Agent,
    },
    /// Mail is sent through an SMTP server.
    Smtp(Box<smtp::Smtp>),
}

/// The message was not accepted: why (the server's reply, for the log; never the text), and
/// whether trying again could help.
#[derive(Debug)]
pub struct MailError {
    /// What went wrong.
    pub reason: String,
    /// Refused for good (an SMTP 5xx): the outbox gives the mail up instead of retrying.
    pub permanent: bool,
}

impl MailError {
    /// A failure that may pass (unreachable, 4xx, timeout).
    pub fn temporary(reason: String) -> MailError {
        MailError { reason, permanent: false }
    }

    /// A refusal that will not change (5xx).
    pub fn permanent(reason: String) -> MailError {
        MailError { reason, permanent: true }
    }
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl Mailer {
    /// Delivers `message`, or says why not. Blocks for at most the configured timeout (plus DNS).
    pub fn send(&self, message: &Message) -> Result<(), MailError> {
        match self {
            Mailer::Console => {
                crate::telemetry::log::info(
                    "mail",
                    json!({"to": message.to.as_str(), "subject": message.subject, "text": message.text}),
                );
                Ok(())
            }
            Mailer::Http { url, from, agent } => {
                let body = json!({
                    "From": {"Email": from.as_str()},
                    "To": [{"Email": message.to.for_delivery()}],
                    "Subject": message.subject,
                    "Text": message.text,
                    "HTML": message.html,
                })
                .to_string();
                let mut answer = agent
                    .post(url)
                    .header("Content-Type", "application/json")
                    .send(body.as_bytes())
                    .map_err(|e| MailError::temporary(format!("mail API unreachable: {e}")))?;
                let status = answer.status();
                let _ = answer.body_mut().with_config().limit(ANSWER_LIMIT).read_to_vec();
                if status.is_success() {
                    Ok(())
                } else {
                    Err(MailError::temporary(format!("mail API answered {status}")))
                }
            }
            Mailer::Smtp(smtp) => smtp.send(message),
        }
    }
}
