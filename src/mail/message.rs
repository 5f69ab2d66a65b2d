//! One rendered mail.

use crate::domain::Email;

/// One mail to one recipient, rendered (text and HTML, [`super::templates`]).
pub struct Message {
    /// Recipient (normalized).
    pub to: Email,
    /// Subject line (one line).
    pub subject: String,
    /// The text part. For a mail with a code, the code is its first run of digits (contract
    /// "Mail").
    pub text: String,
    /// The HTML part.
    pub html: String,
}
