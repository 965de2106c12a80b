//! TOML text → [`File`], collecting every syntax and schema error with its position.
//!
//! The document is first parsed into toml's spanned tree (all syntax errors at once, thanks to
//! the recoverable parser), then each section — and each `[[line]]`, `[[seat]]`, `[[sink]]` —
//! is deserialized on its own. When an entry of a table is wrong (unknown key, wrong type), the
//! error is recorded, the entry removed and the table read again, so that one run reports every
//! bad key instead of the first one.

use std::ops::Range;

use serde::de::DeserializeOwned;
use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::error::{ConfigError, Source};
use super::hemicycle::HemicycleSection;
use super::schema::{Board, File};
use super::seats::SeatEntry;
use crate::sink::SinkEntry;

/// Top-level sections, for the "unknown section" message.
const SECTIONS: &str = "daemon, storage, thresholds, board, line, seat, hemicycle, sink";

/// Parses and reads the schema. Returns what could be read (bad entries left out) and every
/// error found; after a syntax error the file is empty, since a damaged document would only
/// produce confusing follow-up errors.
pub(crate) fn parse(src: &Source) -> (File, Vec<ConfigError>) {
    let (root, syntax) = DeTable::parse_recoverable(&src.text);
    if !syntax.is_empty() {
        let errors = syntax
            .iter()
            .map(|e| {
                src.error(
                    e.span().unwrap_or(0..0),
                    format!("TOML syntax error: {}", e.message()),
                )
            })
            .collect();
        return (File::default(), errors);
    }
    let mut errors = Vec::new();
    let mut file = File::default();
    for (key, value) in root.into_inner() {
        let name = key.get_ref().as_ref();
        let errs = &mut errors;
        match name {
            "daemon" => file.daemon = read_section(src, value, "[daemon]", errs),
            "storage" => file.storage = read_section(src, value, "[storage]", errs),
            "thresholds" => file.thresholds = read_section(src, value, "[thresholds]", errs),
            "hemicycle" => {
                let span = value.span();
                match read::<HemicycleSection>(src, value, "[hemicycle]", errs) {
                    Some(p) => {
                        file.hemicycle = Some(Spanned::new(span, p.value));
                        file.hemicycle_bad_keys = p.removed;
                    }
                    None => file.hemicycle_dropped = true,
                }
            }
            "board" => read_boards(src, value, &mut file, errs),
            "line" => {
                let (lines, dropped) = read_list(src, value, "line", errs);
                file.lines.extend(lines.into_iter().map(|p| p.value));
                file.lines_dropped |= dropped;
            }
            "seat" => {
                let (seats, _) = read_list::<SeatEntry>(src, value, "seat", errs);
                file.seats.extend(seats.into_iter().map(|p| SeatEntry {
                    bad_keys: p.removed,
                    ..p.value
                }));
            }
            "sink" => {
                let (sinks, _) = read_list::<SinkEntry>(src, value, "sink", errs);
                file.sinks.extend(sinks.into_iter().map(|p| SinkEntry {
                    bad_keys: p.removed,
                    ..p.value
                }));
            }
            other => errs.push(src.error(
                key.span(),
                format!("unknown section `{other}`; expected one of {SECTIONS}"),
            )),
        }
    }
    (file, errors)
}

/// The elements of `[[name]]`, or an error if `name` is not an array of tables.
fn tables<'i>(
    src: &Source,
    value: Spanned<DeValue<'i>>,
    name: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<Spanned<DeValue<'i>>> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => items.into_iter().collect(),
        _ => {
            errors.push(src.error(span, format!("`{name}` must be a list of [[{name}]] tables")));
            Vec::new()
        }
    }
}

/// A section table (`[daemon]`, …) as far as it can be read; its defaults when it cannot.
fn read_section<T: DeserializeOwned + Default>(
    src: &Source,
    value: Spanned<DeValue<'_>>,
    ctx: &str,
    errors: &mut Vec<ConfigError>,
) -> T {
    read(src, value, ctx, errors).map(|p| p.value).unwrap_or_default()
}

/// Every `[[name]]` table that can be read, each with the keys removed from it, and whether any
/// could not be read at all (it is then left out; its errors are recorded).
fn read_list<T: DeserializeOwned>(
    src: &Source,
    value: Spanned<DeValue<'_>>,
    name: &str,
    errors: &mut Vec<ConfigError>,
) -> (Vec<Partial<T>>, bool) {
    let ctx = format!("[[{name}]]");
    let mut dropped = false;
    let mut read_ok = Vec::new();
    for v in tables(src, value, name, errors) {
        match read(src, v, &ctx, errors) {
            Some(p) => read_ok.push(p),
            None => dropped = true,
        }
    }
    (read_ok, dropped)
}

/// `[board.<kind>]`: each kind read separately, unknown kinds reported at their key.
fn read_boards(src: &Source, value: Spanned<DeValue<'_>>, file: &mut File, errors: &mut Vec<ConfigError>) {
    let span = value.span();
    let DeValue::Table(kinds) = value.into_inner() else {
        errors.push(src.error(
            span,
            "`board` must be a table of board kinds, e.g. [board.blackpill_f411]",
        ));
        return;
    };
    for (key, v) in kinds {
        let name = key.get_ref().as_ref();
        let Some((board, _)) = Board::ALL.iter().find(|(_, n)| *n == name) else {
            errors.push(src.error(
                key.span(),
                format!(
                    "unknown board kind `{name}` in [board]; expected one of {}",
                    Board::ALL.map(|(_, n)| n).join(", ")
                ),
            ));
            continue;
        };
        let ctx = format!("[board.{name}]");
        if let Some(t) = read(src, v, &ctx, errors) {
            file.boards.push((Spanned::new(key.span(), *board), t.value));
        }
    }
}

/// A table read with its bad entries removed: the value, and the keys that were removed (so
/// later checks do not report a consequence of an error already reported).
pub(crate) struct Partial<T> {
    pub value: T,
    pub removed: Vec<String>,
}

/// Deserializes one table, recording every bad entry (see the module docs). `None` if the table
/// cannot be read even without its bad entries (a required key is missing or bad).
fn read<T: DeserializeOwned>(
    src: &Source,
    mut value: Spanned<DeValue<'_>>,
    ctx: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Partial<T>> {
    let mut removed: Vec<String> = Vec::new();
    // Each round removes one entry; a table has far fewer than this many.
    for _ in 0..256 {
        let err = match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(value) => return Some(Partial { value, removed }),
            Err(e) => e,
        };
        let span = err.span().unwrap_or_else(|| value.span());
        let msg = err.message();
        if let Some(field) = quoted_after(msg, "missing field ") {
            // Missing because we removed a bad entry: already reported.
            if !removed.iter().any(|r| r == field) {
                errors.push(src.error(
                    value.span(),
                    format!("{ctx} is missing the required key `{field}`"),
                ));
            }
            return None;
        }
        let span_start = span.start;
        let DeValue::Table(table) = value.get_mut() else {
            errors.push(src.error(span, format!("{ctx} must be a table")));
            return None;
        };
        let entry = table
            .iter()
            .find(|(k, v)| contains(&k.span(), span_start) || contains(&v.span(), span_start))
            .map(|(k, _)| k.clone());
        let Some(entry) = entry else {
            errors.push(src.error(span, format!("{ctx}: {}", rephrase(msg, None, ctx))));
            return None;
        };
        let key: String = entry.get_ref().as_ref().to_owned();
        errors.push(src.error(span, rephrase(msg, Some(&key), ctx)));
        table.remove(&entry);
        removed.push(key);
    }
    None
}

fn contains(span: &Range<usize>, at: usize) -> bool {
    span.start <= at && at < span.end.max(span.start + 1)
}

/// The text between the first pair of backquotes after `prefix`, if `msg` starts with it.
fn quoted_after<'m>(msg: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = msg.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split('`').next()
}

/// "`a`, `b`" → "a, b".
fn unquote_list(s: &str) -> String {
    s.replace('`', "")
}

/// What serde calls a type, in a technician's words.
fn plain_type(expected: &str) -> String {
    match expected.trim() {
        "u8" => "an integer from 0 to 255".into(),
        "u16" => "an integer from 0 to 65535".into(),
        "u32" => "an integer from 0 to 4294967295".into(),
        "u64" | "usize" => "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "a sequence" => "an array".into(),
        "path string" => "a path (string)".into(),
        e if e.starts_with("struct ") || e == "a map" => "a table".into(),
        e => e.into(),
    }
}

/// Rewrites a serde/toml message about `key` in section `ctx` into a sentence.
fn rephrase(msg: &str, key: Option<&str>, ctx: &str) -> String {
    if let Some(field) = quoted_after(msg, "unknown field ") {
        let rest = msg.split_once(", ").map(|(_, r)| r).unwrap_or("");
        return if let Some(list) = rest.strip_prefix("expected one of ") {
            format!(
                "unknown key `{field}` in {ctx}; expected one of {}",
                unquote_list(list)
            )
        } else if let Some(one) = rest.strip_prefix("expected ") {
            format!("unknown key `{field}` in {ctx}; expected {}", unquote_list(one))
        } else {
            format!("unknown key `{field}` in {ctx}")
        };
    }
    let subject = match key {
        Some(k) => format!("`{k}` in {ctx}"),
        None => ctx.to_string(),
    };
    if let Some(variant) = quoted_after(msg, "unknown variant ") {
        let rest = msg.split_once(", ").map(|(_, r)| r).unwrap_or("");
        let list = rest
            .strip_prefix("expected one of ")
            .or_else(|| rest.strip_prefix("expected "))
            .map(unquote_list)
            .unwrap_or_default();
        return format!("{subject} cannot be \"{variant}\"; expected one of {list}");
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!(
                "{subject} has the wrong type: found {found}, expected {}",
                plain_type(expected)
            );
        }
    }
    if let Some(rest) = msg.strip_prefix("invalid value: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!(
                "{subject} is out of range: found {found}, expected {}",
                plain_type(expected)
            );
        }
    }
    if let Some(rest) = msg.strip_prefix("invalid length ") {
        return format!("{subject} has the wrong number of elements ({rest})");
    }
    format!("{subject}: {msg}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rephrases_serde_messages_for_technicians() {
        assert_eq!(
            rephrase(
                "unknown field `temprature`, expected one of `warn_c`, `critical_c`",
                Some("temprature"),
                "[thresholds]"
            ),
            "unknown key `temprature` in [thresholds]; expected one of warn_c, critical_c"
        );
        assert_eq!(
            rephrase(
                "invalid type: string \"x\", expected u16",
                Some("row"),
                "[[seat]]"
            ),
            "`row` in [[seat]] has the wrong type: found string \"x\", expected an integer from 0 to 65535"
        );
        assert_eq!(
            rephrase(
                "unknown variant `mqtt`, expected one of `webhook`, `exec`",
                Some("kind"),
                "[[sink]]"
            ),
            "`kind` in [[sink]] cannot be \"mqtt\"; expected one of webhook, exec"
        );
    }
}
