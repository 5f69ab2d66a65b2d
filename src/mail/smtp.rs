//! The SMTP adapter of the mailer port: lettre's blocking transport, with a small pool of open
//! connections (a registration does not pay a TLS handshake), bounded by `MAIL_TIMEOUT_MS` for
//! the connection and for each command.
//!
//! A message is accepted when the server answers 250 to its data. Replies are kept whole for the
//! log: a 4xx is temporary (the outbox tries again), a 5xx permanent (the outbox gives the mail up
//! at once; a verification mail answers 503 `mail_unavailable`, as for any failure).

use super::MailError;
use super::message::Message;
use crate::config::{SmtpSecurity, SmtpSettings};
use crate::domain::Email;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};
use std::time::Duration;

/// Connections kept open to the server, at most.
const POOL_SIZE: u32 = 4;

/// An SMTP server to send through.
#[derive(Clone)]
pub struct Smtp {
    transport: SmtpTransport,
    from: Mailbox,
}

impl Smtp {
    /// The transport `settings` describe, sending as `from`. Errors: a certificate in
    /// `SMTP_CA_FILE` that does not parse, a sender address lettre refuses.
    pub fn new(settings: &SmtpSettings, from: &Email, timeout: Duration) -> Result<Smtp, String> {
        let tls = match settings.security {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls_parameters(settings)?),
            SmtpSecurity::Implicit => Tls::Wrapper(tls_parameters(settings)?),
        };
        let mut builder = SmtpTransport::builder_dangerous(settings.host.as_str())
            .port(settings.port)
            .tls(tls)
            .timeout(Some(timeout))
            .pool_config(
                PoolConfig::new().max_size(POOL_SIZE).idle_timeout(Duration::from_secs(60)),
            );
        if let Some((user, password)) = &settings.credentials {
            builder = builder
                .credentials(Credentials::new(user.clone(), password.clone()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        let from = from.for_delivery().parse().map_err(|e| format!("MAIL_FROM for SMTP: {e}"))?;
        Ok(Smtp { transport: builder.build(), from })
    }

    /// Sends `message` as multipart/alternative: its text, and the same as HTML. Errors: the server's reply (or the connection's failure), and
    /// whether it is permanent (5xx, or an address the server could never take).
    pub fn send(&self, message: &Message) -> Result<(), MailError> {
        let to: Mailbox =
            message.to.for_delivery().parse().map_err(|e| {
                MailError::permanent(format!("recipient refused before sending: {e}"))
            })?;
        let email = lettre::Message::builder()
            .message_id(Some(self.message_id()?))
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.as_str())
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|e| MailError::permanent(format!("message not built: {e}")))?;
        self.transport.send(&email).map(|_| ()).map_err(|e| {
            let reason = format!("SMTP: {e}");
            if refused_for_good(&e) {
                MailError::permanent(reason)
            } else {
                MailError::temporary(reason)
            }
        })
    }
}

/// A refusal of this message that no retry changes: a 550–554 (no such mailbox, not allowed,
/// too big, refused), or one lettre makes before sending (a recipient the server cannot take,
/// such as a non-ASCII local part without SMTPUTF8). Every other 5xx (a wrong password, 535; a
/// refused EHLO or sender) is a fault of the setup, not of the message: the mail waits for the
/// operator to fix it instead of being dropped.
fn refused_for_good(error: &lettre::transport::smtp::Error) -> bool {
    let code = error.status().map(|code| code.to_string());
    error.is_client()
        || (error.is_permanent()
            && code.is_some_and(|c| ["550", "551", "552", "553", "554"].contains(&c.as_str())))
}

impl Smtp {
    /// `<32 random hex digits@the sender's domain>` (RFC 5322 §3.6.4).
    fn message_id(&self) -> Result<String, MailError> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random)
            .map_err(|e| MailError::temporary(format!("no randomness for a Message-ID: {e}")))?;
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Ok(format!("<{hex}@{}>", self.from.email.domain()))
    }
}

/// TLS towards `settings.host`, certificates verified against Mozilla's roots and any in
/// `SMTP_CA_FILE`.
fn tls_parameters(settings: &SmtpSettings) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(settings.host.clone());
    for pem in &settings.ca_certificates {
        let certificate = Certificate::from_pem(pem.as_bytes())
            .map_err(|e| format!("SMTP_CA_FILE holds a certificate that does not parse: {e}"))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build_rustls().map_err(|e| format!("TLS for SMTP: {e}"))
}
