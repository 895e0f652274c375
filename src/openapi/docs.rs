//! `/docs`: the OpenAPI document rendered as one self-contained HTML page (no scripts, no
//! CDN: it must work offline). Every piece of text from the document is escaped.

use serde_json::{Map, Value};
use std::fmt::Write;

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:1000px;\
padding:1em 2em;color:#222}h2{border-bottom:2px solid #ddd;margin-top:2em}\
.op{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.5em 1em}\
.m{display:inline-block;min-width:4.5em;font-weight:bold;font-family:monospace}\
.get{color:#0a6}.post{color:#06c}.put,.patch{color:#a60}.delete{color:#c22}\
code,.p{font-family:monospace}.p{font-size:1.05em}table{border-collapse:collapse;margin:.3em 0}\
td,th{border:1px solid #e3e3e3;padding:.2em .5em;text-align:left;vertical-align:top}\
th{background:#f6f6f6}.muted{color:#666}nav a{margin-right:1em}";

/// The whole page.
pub fn render(spec: &Value) -> String {
    let title = text(&spec["info"]["title"]);
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{} API reference</title><style>{STYLE}</style></head><body>\
         <h1>{} API reference</h1><p>{}</p><p>Machine-readable: <a href=\"/openapi.json\">\
         /openapi.json</a> (OpenAPI {}).</p>",
        esc(&title),
        esc(&title),
        code_spans(&text(&spec["info"]["description"])),
        esc(&text(&spec["openapi"])),
    );
    out.push_str(&security_section(spec));
    let tags: Vec<(String, String)> = spec["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|t| (text(&t["name"]), text(&t["description"])))
                .collect()
        })
        .unwrap_or_default();
    out.push_str("<nav>");
    for (name, _) in &tags {
        let _ = write!(out, "<a href=\"#tag-{0}\">{0}</a>", esc(name));
    }
    out.push_str("<a href=\"#schemas\">schemas</a></nav>");
    let paths = spec["paths"].as_object().cloned().unwrap_or_default();
    for (tag, description) in &tags {
        let _ = write!(
            out,
            "<h2 id=\"tag-{0}\">{0}</h2><p>{1}</p>",
            esc(tag),
            esc(description)
        );
        for (path, item) in &paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                let op = &item[method];
                let in_tag = op["tags"]
                    .as_array()
                    .and_then(|t| t.first())
                    .is_some_and(|t| t == tag.as_str());
                if in_tag {
                    out.push_str(&operation(method, path, op));
                }
            }
        }
    }
    out.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = spec["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            let _ = write!(
                out,
                "<h3 id=\"schema-{0}\">{0}</h3><p>{1}</p>{2}",
                esc(name),
                code_spans(&text(&schema["description"])),
                fields(schema)
            );
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn security_section(spec: &Value) -> String {
    let mut out = String::from("<h2>Authentication</h2><ul>");
    if let Some(schemes) = spec["components"]["securitySchemes"].as_object() {
        for (name, s) in schemes {
            let how = match text(&s["type"]).as_str() {
                "apiKey" => format!("header <code>{}</code>", esc(&text(&s["name"]))),
                "http" => format!(
                    "<code>Authorization: Bearer &lt;{}&gt;</code>",
                    esc(&text(&s["bearerFormat"]))
                ),
                other => esc(other),
            };
            let _ = write!(
                out,
                "<li><b>{}</b>: {how}. {}</li>",
                esc(name),
                code_spans(&text(&s["description"]))
            );
        }
    }
    out.push_str("</ul>");
    out
}

fn operation(method: &str, path: &str, op: &Value) -> String {
    let mut out = format!(
        "<div class=\"op\" id=\"{}\"><p><span class=\"m {method}\">{}</span> <span class=\"p\">{}\
         </span> — <b>{}</b></p>",
        esc(&text(&op["operationId"])),
        method.to_uppercase(),
        esc(path),
        esc(&text(&op["summary"])),
    );
    let description = text(&op["description"]);
    if !description.is_empty() {
        let _ = write!(out, "<p>{}</p>", code_spans(&description));
    }
    if let Some(security) = op["security"].as_array() {
        let names: Vec<String> = security
            .iter()
            .filter_map(|s| s.as_object())
            .flat_map(|s| s.keys().map(|k| esc(k)))
            .collect();
        let _ = write!(out, "<p class=\"muted\">Auth: {}</p>", names.join(" or "));
    }
    if let Some(params) = op["parameters"].as_array() {
        out.push_str(
            "<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>",
        );
        for p in params {
            let required = if p["required"] == true {
                " (required)"
            } else {
                ""
            };
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{required}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&text(&p["name"])),
                esc(&text(&p["in"])),
                type_of(&p["schema"]),
                code_spans(&text(&p["description"])),
            );
        }
        out.push_str("</table>");
    }
    if let Some(content) = op["requestBody"]["content"].as_object() {
        for (media, c) in content {
            let _ = write!(
                out,
                "<p>Request body (<code>{}</code>): {}</p>{}",
                esc(media),
                type_of(&c["schema"]),
                example(&c["example"])
            );
        }
    }
    out.push_str("<table><tr><th>status</th><th>meaning</th><th>body</th></tr>");
    if let Some(responses) = op["responses"].as_object() {
        for (status, r) in responses {
            let body: Vec<String> = r["content"]
                .as_object()
                .map(|c| {
                    c.iter()
                        .map(|(media, c)| {
                            format!("{} <code>{}</code>", type_of(&c["schema"]), esc(media))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(status),
                code_spans(&text(&r["description"])),
                body.join("<br>")
            );
        }
    }
    out.push_str("</table>");
    if let Some(content) = op["responses"].as_object() {
        for (status, r) in content {
            for c in r["content"].as_object().into_iter().flat_map(Map::values) {
                if !c["example"].is_null() {
                    let _ = write!(
                        out,
                        "<p class=\"muted\">Example {}:</p>{}",
                        esc(status),
                        example(&c["example"])
                    );
                }
            }
        }
    }
    out.push_str("</div>");
    out
}

/// A table of an object schema's properties (following `allOf`), nested objects inline.
fn fields(schema: &Value) -> String {
    if let Some(parts) = schema["allOf"].as_array() {
        return parts
            .iter()
            .map(|p| match p.get("$ref") {
                Some(_) => format!("<p>All fields of {}, and:</p>", type_of(p)),
                None => fields(p),
            })
            .collect();
    }
    let Some(props) = schema["properties"].as_object() else {
        return format!("<p>{}</p>", type_of(schema));
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = String::from("<table><tr><th>field</th><th>type</th><th>description</th></tr>");
    for (name, p) in props {
        let mark = if required.contains(&name.as_str()) {
            ""
        } else {
            " <span class=\"muted\">(optional)</span>"
        };
        let nested = if p["properties"].is_object() {
            fields(p)
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<tr><td><code>{}</code>{mark}</td><td>{}</td><td>{}{nested}</td></tr>",
            esc(name),
            type_of(p),
            code_spans(&text(&p["description"])),
        );
    }
    out.push_str("</table>");
    out
}

/// A short, escaped description of a schema's type, linking named schemas.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    for (key, sep) in [("oneOf", " | "), ("anyOf", " | "), ("allOf", " &amp; ")] {
        if let Some(parts) = schema[key].as_array() {
            return parts.iter().map(type_of).collect::<Vec<_>>().join(sep);
        }
    }
    let mut out = match &schema["type"] {
        Value::String(t) if t == "array" => format!("array of {}", type_of(&schema["items"])),
        Value::String(t) => esc(t),
        Value::Array(ts) => ts
            .iter()
            .map(|t| esc(&text(t)))
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".to_string(),
    };
    if let Some(f) = schema["format"].as_str() {
        let _ = write!(out, " ({})", esc(f));
    }
    if let Some(values) = schema["enum"].as_array() {
        let list: Vec<String> = values
            .iter()
            .map(|v| format!("<code>{}</code>", esc(&text(v))))
            .collect();
        let _ = write!(out, ": one of {}", list.join(", "));
    }
    let bounds: Vec<String> = [
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
    ]
    .iter()
    .filter_map(|k| schema[*k].as_f64().map(|v| format!("{k} {v}")))
    .collect();
    if !bounds.is_empty() {
        let _ = write!(
            out,
            " <span class=\"muted\">[{}]</span>",
            esc(&bounds.join(", "))
        );
    }
    out
}

fn example(value: &Value) -> String {
    if value.is_null() {
        return String::new();
    }
    let pretty = serde_json::to_string_pretty(value).unwrap_or_default();
    format!("<pre><code>{}</code></pre>", esc(&pretty))
}

/// Escapes `text` and turns its `backticked` parts into `<code>`.
fn code_spans(text: &str) -> String {
    esc(text)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

/// A JSON value as plain text (strings without their quotes).
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// HTML-escapes text for element content and quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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
    use super::*;
    use serde_json::json;

    #[test]
    fn text_from_the_document_is_escaped() {
        let spec = json!({
            "openapi": "3.1.0",
            "info": {"title": "<script>alert(1)</script>", "description": "a & b"},
            "tags": [{"name": "t", "description": "\"quoted\""}],
            "paths": {"/x/{id}": {"get": {"tags": ["t"], "summary": "<b>bold</b>",
                "operationId": "x\"y", "responses": {}}}},
        });
        let html = render(&spec);
        assert!(
            !html.contains("<script>") && !html.contains("<b>bold</b>"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;") && html.contains("a &amp; b"));
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;") && html.contains("x&quot;y"));
    }
}
