//! The templates every mail is built from (contract v3 "Mail for production"): for each kind of
//! mail, `KIND.txt` (a `Subject:` line, a blank line, the text) and `KIND.html` (the HTML part,
//! usually extending `layout.html`). The built-in ones are `src/mail/templates/`; an operator
//! replaces them all with `MAIL_TEMPLATES_DIR` (a copy of that folder, edited).
//!
//! They are MiniJinja (Jinja2) templates with strict undefined values: a variable the kind does
//! not have is an error, never an empty string. Values are HTML-escaped in `.html` files (the
//! engine escapes by file extension), so nothing a user typed (a passkey's name, an address) can
//! become markup; the subject is folded to one line, so no value can start a header.
//!
//! [`Templates::load`] checks every template before the service starts: each one parses, uses only
//! its kind's variables (and `email`; `.html` also `subject`), renders with sample values, and a
//! mail that carries a code has it as the first run of digits of its text (contract "Mail").

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// The name and source of each built-in template.
macro_rules! built_in {
    ($($kind:literal),* $(,)?) => {
        &[("layout.html", include_str!("templates/layout.html")),
          $((concat!($kind, ".txt"), include_str!(concat!("templates/", $kind, ".txt"))),
            (concat!($kind, ".html"), include_str!(concat!("templates/", $kind, ".html"))),)*]
    };
}

/// Every template the service needs, with its built-in source.
const BUILT_IN: &[(&str, &str)] = built_in!(
    "verification",
    "password_reset_code",
    "sign_in_code",
    "email_change_code",
    "password_changed",
    "password_reset",
    "account_deleted",
    "account_deleted_by_admin",
    "email_change_requested",
    "email_changed",
    "totp_enabled",
    "totp_disabled",
    "mfa_failures",
    "recovery_code_used",
    "passkey_added",
    "passkey_removed",
    "identity_linked",
);

/// One mail, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line.
    pub subject: String,
    /// The text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// The checked templates, ready to render (cheap to clone: shared). Every template is in both
/// environments: the text one never escapes, the HTML one always does, so a `.txt` partial
/// included in an `.html` template is escaped too.
#[derive(Clone)]
pub struct Templates {
    text: Arc<Environment<'static>>,
    html: Arc<Environment<'static>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Templates {
    /// The built-in templates, or every one of them from `dir` (`MAIL_TEMPLATES_DIR`), checked
    /// with `samples`: one (kind, values) for each kind of mail, whose keys are the variables
    /// the kind has and whose `code`, if any, must come first in the text.
    /// Errors: the first problem, naming its file (a missing or unreadable file, a syntax
    /// error, an unknown variable, a failed render, digits before the code).
    pub fn load(dir: Option<&Path>, samples: &[(&str, Value)]) -> Result<Templates, String> {
        let mut sources = Vec::new();
        for (name, source) in BUILT_IN {
            let source = match dir {
                None => (*source).to_owned(),
                Some(dir) => read(&dir.join(name), name)?,
            };
            match name.strip_suffix(".txt") {
                Some(kind) => sources.extend(split_subject(kind, &source)?),
                None => sources.push(((*name).to_owned(), source)),
            }
        }
        if let Some(dir) = dir {
            sources.extend(partials(dir)?);
        }
        let templates = Templates {
            text: Arc::new(environment(AutoEscape::None, &sources)?),
            html: Arc::new(environment(AutoEscape::Html, &sources)?),
        };
        templates.check(samples)?;
        Ok(templates)
    }

    /// Renders the mail of template `kind` with `values` (and `email`, the recipient).
    /// Errors: the engine's message (a template that failed at run time), or a `code` in
    /// `values` that is not the first run of digits of the text.
    pub fn render(&self, kind: &str, email: &str, values: &Value) -> Result<Rendered, String> {
        let values = context! { email, ..values.clone() };
        let subject = render_one(&self.text, &subject_template(kind), &values)?;
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        if subject.is_empty() {
            return Err(format!("{kind}.txt renders an empty subject"));
        }
        let text = render_one(&self.text, &format!("{kind}.txt"), &values)?.replace("\r\n", "\n");
        let text = text.trim_start_matches('\n').trim_end().to_owned();
        if let Some(code) = values.get_attr("code").ok().filter(|c| !c.is_undefined()) {
            if first_digits(&text) != code.to_string() {
                return Err(format!(
                    "{kind}.txt must show {{{{ code }}}} before any other digit (an address or \
                     other value included): clients read the code as the first run of digits"
                ));
            }
        }
        let html =
            render_one(&self.html, &format!("{kind}.html"), &context! { subject, ..values })?;
        Ok(Rendered { subject, text, html })
    }

    /// Every kind with sample values: known variables only, renders, code first.
    fn check(&self, samples: &[(&str, Value)]) -> Result<(), String> {
        self.check_variables("layout.html", &["email", "subject"].into_iter().collect())?;
        for (kind, values) in samples {
            let mut known: BTreeSet<&str> = ["email"].into_iter().collect();
            let keys: Vec<String> =
                values.try_iter().into_iter().flatten().map(|k| k.to_string()).collect();
            known.extend(keys.iter().map(String::as_str));
            self.check_variables(&subject_template(kind), &known)?;
            self.check_variables(&format!("{kind}.txt"), &known)?;
            known.insert("subject");
            self.check_variables(&format!("{kind}.html"), &known)?;
            self.render(kind, SAMPLE_ADDRESS, values)?;
        }
        Ok(())
    }

    /// `name` uses only `known` variables, or the engine's own globals (`range`, `namespace`).
    fn check_variables(&self, name: &str, known: &BTreeSet<&str>) -> Result<(), String> {
        let template = self.text.get_template(name).map_err(|e| format!("{e}"))?;
        let globals: BTreeSet<&str> = self.text.globals().map(|(name, _)| name).collect();
        let mut unknown: Vec<String> = template.undeclared_variables(false).into_iter().collect();
        unknown.retain(|v| !known.contains(v.as_str()) && !globals.contains(v.as_str()));
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(variable) => Err(format!(
                "{name} uses the unknown variable `{variable}` (it can use {})",
                known.iter().copied().collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

/// The recipient the templates are checked with: digits in it, so that a text that shows the
/// address before the code is refused at start, not discovered at run time.
pub const SAMPLE_ADDRESS: &str = "ann.1985@example.com";

/// An environment holding `sources` (name, source), with strict undefined values and `escape`
/// for every template.
fn environment(
    escape: AutoEscape,
    sources: &[(String, String)],
) -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let html = matches!(escape, AutoEscape::Html);
    env.set_auto_escape_callback(move |_| if html { AutoEscape::Html } else { AutoEscape::None });
    for (name, source) in sources {
        env.add_template_owned(name.clone(), source.clone()).map_err(|e| format!("{e}"))?;
    }
    Ok(env)
}

fn render_one(env: &Environment<'static>, name: &str, values: &Value) -> Result<String, String> {
    let template = env.get_template(name).map_err(|e| format!("{e}"))?;
    template.render(values).map_err(|e| format!("{e}"))
}

/// `KIND.txt` as two templates, so that no value can move the line between them: its subject
/// line (the first line, `Subject: …`, then an empty line), and the text after it (behind two
/// empty lines, so that errors name the right line of the file). A byte-order mark is dropped.
fn split_subject(kind: &str, source: &str) -> Result<[(String, String); 2], String> {
    let source = source.trim_start_matches('\u{feff}').replace("\r\n", "\n");
    let mut lines = source.splitn(3, '\n');
    let subject = lines.next().and_then(|line| line.strip_prefix("Subject:"));
    let (Some(subject), Some(blank)) = (subject, lines.next()) else {
        return Err(format!("{kind}.txt must start with a Subject: line and an empty line"));
    };
    if !blank.trim().is_empty() {
        return Err(format!("{kind}.txt: line 2 must be empty (the subject is one line)"));
    }
    let text = format!("\n\n{}", lines.next().unwrap_or(""));
    Ok([(subject_template(kind), subject.to_owned()), (format!("{kind}.txt"), text)])
}

/// The name of `KIND.txt`'s subject line as a template (no escaping: it ends in neither `.html`
/// nor `.xml`).
fn subject_template(kind: &str) -> String {
    format!("{kind}.txt, the subject line")
}

/// The digits of `text`'s first run of digits.
pub fn first_digits(text: &str) -> String {
    text.chars().skip_while(|c| !c.is_ascii_digit()).take_while(char::is_ascii_digit).collect()
}

fn read(path: &Path, name: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{name} is missing from {}", path.display()),
        _ => format!("{} cannot be read ({e})", path.display()),
    })
}

/// The operator's other `.txt` and `.html` files (partials to include), as (name, source).
fn partials(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{} cannot be read ({e})", dir.display()))?;
    let mut partials = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let partial = (name.ends_with(".txt") || name.ends_with(".html"))
            && !BUILT_IN.iter().any(|(known, _)| *known == name);
        if partial && entry.path().is_file() {
            let source = read(&entry.path(), &name)?;
            partials.push((name, source));
        }
    }
    Ok(partials)
}

#[cfg(test)]
mod tests;
