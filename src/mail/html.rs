//! The HTML part of every mail (multipart/alternative, next to the text): the text itself,
//! escaped, one paragraph per blank-line-separated block, in a plain layout that mail clients
//! render alike. Nothing a user typed (a passkey's name, an address) can become markup.

/// The HTML for a mail with `subject` and `text`.
pub fn render(subject: &str, text: &str) -> String {
    let paragraphs: String = text
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            format!("<p style=\"margin:0 0 16px\">{}</p>", escape(p.trim()).replace('\n', "<br>"))
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title></head>\
         <body style=\"margin:0;padding:24px;font-family:-apple-system,Segoe UI,Roboto,sans-serif;\
         font-size:16px;line-height:1.5;color:#1f2328;background:#ffffff\">\
         <div style=\"max-width:560px;margin:0 auto\">{paragraphs}</div></body></html>\n",
        escape(subject)
    )
}

/// `&`, `<`, `>`, `"` and `'` as character references.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn text_becomes_escaped_paragraphs() {
        let html =
            render("A <subject>", "Code 1234.\n\nA passkey named \"<script>x</script>\" & co.");
        assert!(html.contains("<title>A &lt;subject&gt;</title>"));
        assert!(html.contains(">Code 1234.</p>"));
        assert!(html.contains("&quot;&lt;script&gt;x&lt;/script&gt;&quot; &amp; co."));
        assert!(!html.contains("<script>"));
    }
}
