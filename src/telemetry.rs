//! Logging setup: `tracing` to standard error, human-readable or JSON lines.
//!
//! What may be logged is decided where events are made: numbers only masked, never a
//! code, a secret or an API key (types holding them redact their `Debug`).
//!
//! One event is one line, whatever its fields hold. Some fields carry text from outside
//! (a vendor's error text, a receipt's detail, a refused receipt's reason), and a newline
//! in one would let its sender forge whole log lines. The JSON format escapes every
//! control character by construction; the text format formats fields and message
//! through [`EscapedFields`], which writes `\n`, `\r`, `\t` as those two-character
//! escapes and every other control character (ESC and the rest of C0, DEL, C1) and the
//! Unicode line and paragraph separators as `\u{..}`.

use crate::config::{LogConfig, LogFormat};
use std::fmt;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (and the `log` bridge) once; later calls are ignored.
/// Text lines are coloured only when standard error is a terminal, so files and log
/// collectors get plain text.
pub fn init(cfg: &LogConfig) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let ansi = std::io::stderr().is_terminal();
    let _ = subscriber(cfg, std::io::stderr, ansi).try_init();
}

/// The subscriber [`init`] installs, writing to `writer` (tests capture it), with ANSI
/// colours in the text format when `ansi`.
pub fn subscriber<W>(
    cfg: &LogConfig,
    writer: W,
    ansi: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match cfg.format {
        LogFormat::Text => Box::new(builder.fmt_fields(EscapedFields::default()).finish()),
        LogFormat::Json => Box::new(builder.json().flatten_event(true).finish()),
    }
}

/// The text format's field formatter: `tracing-subscriber`'s default layout, with every
/// control character of the formatted fields (message included) escaped, so no field
/// can break or forge a line.
#[derive(Debug, Default)]
pub struct EscapedFields(DefaultFields);

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut raw = String::new();
        self.0.format_fields(Writer::new(&mut raw), fields)?;
        write_escaped(&mut writer, &raw)
    }
}

/// Writes `text` with its control characters escaped (see the module docs).
pub fn write_escaped(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    if !text.chars().any(needs_escape) {
        return out.write_str(text);
    }
    for c in text.chars() {
        match c {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if needs_escape(c) => write!(out, "\\u{{{:x}}}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    const FORGED: &str =
        "x\n2025-01-01T00:00:00.000000Z  INFO otpgw: admin login ok\r\u{1b}[2K\u{2028}";

    fn logged(format: LogFormat) -> String {
        let buf = Buf::default();
        let cfg = LogConfig {
            format,
            filter: "info".into(),
        };
        tracing::subscriber::with_default(subscriber(&cfg, buf.clone(), false), || {
            let span = tracing::info_span!("http", route = %FORGED);
            let _g = span.enter();
            tracing::warn!(error = %FORGED, debug = ?FORGED, "refused: {FORGED}");
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        out
    }

    #[test]
    fn text_lines_escape_control_characters_in_every_field_and_the_message() {
        let out = logged(LogFormat::Text);
        assert_eq!(out.lines().count(), 1, "one event, one line: {out}");
        assert!(out.ends_with('\n'));
        assert!(
            !out.trim_end_matches('\n')
                .contains(['\n', '\r', '\u{1b}', '\u{2028}']),
            "{out:?}"
        );
        assert!(
            !out.lines()
                .any(|l| l.contains("INFO otpgw") && !l.contains("WARN")),
            "{out}"
        );
        assert!(out.contains("x\\n2025-01-01"), "{out}");
        assert!(out.contains("\\r\\u{1b}[2K\\u{2028}"), "{out}");
        // In the message, in a Display field, in a span field.
        assert!(out.contains("refused: x\\n2025"), "{out}");
        assert!(out.contains("error=x\\n2025"), "{out}");
        assert!(out.contains("route=x\\n2025"), "{out}");
    }

    #[test]
    fn json_lines_escape_control_characters_too() {
        let out = logged(LogFormat::Json);
        assert_eq!(out.lines().count(), 1, "{out}");
        let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
        assert_eq!(v["error"], FORGED);
        assert_eq!(v["message"], format!("refused: {FORGED}"));
        assert!(
            !out.trim_end_matches('\n').contains(['\n', '\r', '\u{1b}']),
            "{out:?}"
        );
    }

    #[test]
    fn plain_text_is_written_as_is() {
        let mut s = String::new();
        write_escaped(&mut s, "ok: café, C:\\path, 42").unwrap();
        assert_eq!(s, "ok: café, C:\\path, 42");
    }
}
