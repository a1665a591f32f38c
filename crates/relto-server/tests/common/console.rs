//! Reading the console's pages in tests: the ids a list shows, its next link, the JSON an
//! object page shows, a form field's value.

/// The text after `prefix` up to the next quote, unescaped.
pub fn attr(body: &str, prefix: &str) -> Option<String> {
    let start = body.find(prefix)? + prefix.len();
    let end = body[start..].find('"')?;
    Some(unescape(&body[start..start + end]))
}

/// Undoes the templates' HTML escaping.
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The ids a list page shows (its rows' `data-id`).
pub fn listed_ids(body: &str) -> Vec<String> {
    body.match_indices("data-id=\"")
        .map(|(i, m)| {
            let rest = &body[i + m.len()..];
            unescape(&rest[..rest.find('"').unwrap()])
        })
        .collect()
}

/// The list page's link to the next page, if any.
pub fn next_link(body: &str) -> Option<String> {
    let i = body.find("rel=\"next\"")?;
    let start = body[..i].rfind("href=\"")? + 6;
    let end = start + body[start..].find('"')?;
    Some(unescape(&body[start..end]))
}

/// The first `<pre class="json" …>` of a page, parsed.
pub fn shown_json(body: &str) -> serde_json::Value {
    let start = body.find("<pre class=\"json\"").expect("a JSON block");
    let open = start + body[start..].find('>').unwrap() + 1;
    let close = open + body[open..].find("</pre>").unwrap();
    serde_json::from_str(&unescape(&body[open..close])).expect("JSON")
}
