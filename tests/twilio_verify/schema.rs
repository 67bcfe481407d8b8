//! Twilio's own OpenAPI document of Verify v2 (`tests/conformance/specs/twilio/`) as a
//! validator of the facade's answers: the response schema of the route, method and
//! status (the document's standard error object for a status it does not list), with
//! every construct those schemas use (`$ref`, `type`, `nullable`, `enum`, `pattern`,
//! lengths, `date-time` and `uri` formats, `items`) and one rule more than JSON Schema:
//! no field the schema does not name, so our field names are Twilio's.

use regex::Regex;
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/conformance/specs/twilio/twilio_verify_v2.prism.json");
        serde_json::from_slice(&std::fs::read(p).expect("the Verify v2 document")).unwrap()
    })
}

/// The document's path template matching a concrete path.
fn template(path: &str) -> String {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let paths = spec()["paths"].as_object().unwrap();
    paths
        .keys()
        .find(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segs.len()
                && ts
                    .iter()
                    .zip(&segs)
                    .all(|(t, s)| t.starts_with('{') || t == s)
        })
        .unwrap_or_else(|| panic!("no path of the document matches {path}"))
        .clone()
}

fn resolve(s: &Value) -> &Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(&spec()["components"]["schemas"][name])
        }
        None => s,
    }
}

/// Twilio's standard error object, as the document spells it (on the 429 of a start).
fn error_schema() -> &'static Value {
    &spec()["paths"]["/v2/Services/{ServiceSid}/Verifications"]["post"]["responses"]["429"]
        ["content"]["application/json"]["schema"]
}

/// Checks `body`, the answer `status` to `method path`, against the document; the
/// failures, one line each.
pub fn problems(method: &str, path: &str, status: u16, body: &Value) -> Vec<String> {
    let t = template(path);
    let op = &spec()["paths"][&t][method.to_ascii_lowercase()];
    assert!(op.is_object(), "the document has no {method} {t}");
    let documented = &op["responses"][status.to_string()]["content"]["application/json"]["schema"];
    let schema = if documented.is_object() {
        documented
    } else {
        assert!(
            status >= 400,
            "{method} {t}: the document lists no {status} answer"
        );
        error_schema()
    };
    let mut out = Vec::new();
    check(schema, body, "$", &mut out);
    if status < 400 {
        // Twilio answers every field of a resource, null or not.
        let props = resolve(schema)["properties"].as_object().unwrap();
        for k in props.keys().filter(|k| body.get(k.as_str()).is_none()) {
            out.push(format!("$: `{k}` is missing"));
        }
    }
    if status >= 400 {
        for f in ["code", "message", "more_info", "status"] {
            if body.get(f).is_none() {
                out.push(format!("$: an error without `{f}`"));
            }
        }
        if body["status"] != status {
            out.push(format!("$.status is {} on a {status}", body["status"]));
        }
    }
    out
}

fn is_date_time(s: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$").unwrap()
    })
    .is_match(s)
}

fn check(schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    let s = resolve(schema);
    if v.is_null() {
        if s.get("type").is_some() && s["nullable"] != true {
            out.push(format!("{at}: null where the schema does not allow it"));
        }
        return;
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => true,
        };
        if !ok {
            out.push(format!("{at}: {v} is not of type {t}"));
            return;
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            out.push(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let Some(text) = v.as_str() {
        let n = text.chars().count() as u64;
        if s.get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
            || s.get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| n > m)
        {
            out.push(format!("{at}: {text:?} has the wrong length"));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            if !Regex::new(p).unwrap().is_match(text) {
                out.push(format!("{at}: {text:?} does not match {p}"));
            }
        }
        match s.get("format").and_then(Value::as_str) {
            Some("date-time") if !is_date_time(text) => {
                out.push(format!("{at}: {text:?} is not a date-time"))
            }
            Some("uri") if !(text.starts_with("http://") || text.starts_with("https://")) => {
                out.push(format!("{at}: {text:?} is not a URI"))
            }
            _ => {}
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            check(items, x, &format!("{at}[{i}]"), out);
        }
    }
    if let (Some(props), Some(obj)) = (
        s.get("properties").and_then(Value::as_object),
        v.as_object(),
    ) {
        for (k, x) in obj {
            match props.get(k) {
                Some(ps) => check(ps, x, &format!("{at}.{k}"), out),
                None => out.push(format!("{at}: `{k}` is not a field of the schema")),
            }
        }
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !obj.contains_key(r.as_str().unwrap_or("")) {
                out.push(format!("{at}: required `{r}` is missing"));
            }
        }
    }
}
