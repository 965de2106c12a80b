//! The configuration file's shape, as serde reads it: the whole [`File`] and the value types
//! several sections share (durations, keys, board kinds). Each section's own table lives with its
//! checks (`daemon`, `storage`, `thresholds`, `lines`, `seats`, `hemicycle`, and each sink kind's
//! `config.rs`). Every table denies unknown keys (a typo such as `temprature` must be an error,
//! not a silently ignored setting), and every value a later check can reject is `Spanned`, so
//! that check can point at it.

use std::fmt;
use std::time::Duration;

use hemiwatch_protocol::{BoardKind, SeatKey};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_spanned::Spanned;

use super::daemon::DaemonSection;
use super::hemicycle::HemicycleSection;
use super::lines::LineEntry;
use super::seats::SeatEntry;
use super::storage::StorageSection;
use super::thresholds::Thresholds;
use crate::sink::SinkEntry;

/// Deserializes a value written as a string through `parse`, whose error (a sentence for the
/// technician) becomes the deserializer's; `expecting` says what is wanted when the value is not
/// a string at all. Serves every config type read from text (durations, keys, addresses).
pub(crate) fn deserialize_str_with<'de, D: Deserializer<'de>, T>(
    d: D,
    expecting: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    struct V<'a, T> {
        expecting: &'a str,
        parse: fn(&str) -> Result<T, String>,
    }
    impl<T> Visitor<'_> for V<'_, T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.parse)(v).map_err(E::custom)
        }
    }
    d.deserialize_str(V { expecting, parse })
}

/// A duration written for humans (`"500ms"`, `"90s"`, `"5m"`, `"24h"`, `"90d"`), parsed by
/// humantime so the config reads like the documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_str_with(d, "a duration such as \"90s\", \"5m\" or \"24h\"", |v| {
            humantime::parse_duration(v).map(HumanDuration).map_err(|e| {
                format!("\"{v}\" is not a duration ({e}); write e.g. \"500ms\", \"90s\", \"5m\", \"24h\" or \"90d\"")
            })
        })
    }
}

/// A seat key written inline as 32 hex digits. The value is never echoed in an error message:
/// it is a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HexKey(pub SeatKey);

/// Parses 32 hex digits (surrounding whitespace ignored) into a key; the error says what is wrong
/// without repeating the secret.
pub(crate) fn parse_hex_key(text: &str) -> Result<SeatKey, String> {
    let t = text.trim();
    if t.len() != 32 {
        return Err(format!(
            "a seat key is 32 hex digits (16 bytes); this one has {} characters",
            t.chars().count()
        ));
    }
    let mut key = [0u8; 16];
    hex::decode_to_slice(t, &mut key)
        .map_err(|_| "a seat key is 32 hex digits (0-9, a-f); this one has other characters".to_string())?;
    Ok(SeatKey(key))
}

impl<'de> Deserialize<'de> for HexKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_str_with(d, "a string of 32 hex digits", |v| parse_hex_key(v).map(HexKey))
    }
}

/// Seat hardware, as named in the config (`board = "blackpill_f411"`, `[board.simulated]`). Known
/// from the config rather than from the seat's `Hello` because its thresholds must apply before
/// the seat has ever spoken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Board {
    /// QEMU's lm3s6965evb: the CI rig.
    #[serde(rename = "qemu_lm3s6965")]
    QemuLm3s6965,
    /// STM32F411 "Black Pill": the real seat board.
    #[serde(rename = "blackpill_f411")]
    BlackpillF411,
    /// A seat simulated by `hemiwatch sim` / `demo`.
    #[serde(rename = "simulated")]
    Simulated,
}

impl Board {
    /// Every kind with its config name, for parsing `[board.<kind>]` keys and error messages.
    pub const ALL: [(Board, &'static str); 3] = [
        (Board::QemuLm3s6965, "qemu_lm3s6965"),
        (Board::BlackpillF411, "blackpill_f411"),
        (Board::Simulated, "simulated"),
    ];

    /// The config name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(b, _)| *b == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }

    /// The protocol's board kind, as the seat announces it in `Hello`.
    pub fn kind(self) -> BoardKind {
        match self {
            Self::QemuLm3s6965 => BoardKind::QemuLm3s6965,
            Self::BlackpillF411 => BoardKind::BlackPillF411,
            Self::Simulated => BoardKind::Simulated,
        }
    }
}

/// Log output of the daemon, from `[daemon] log_format` or `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// A whole file, section by section, as read by `parse` (each section separately, so that errors
/// in several sections are all reported).
#[derive(Clone, Debug, Default)]
pub(crate) struct File {
    /// `[daemon]`.
    pub daemon: DaemonSection,
    /// `[storage]`.
    pub storage: StorageSection,
    /// `[thresholds]`.
    pub thresholds: Thresholds,
    /// `[board.<kind>]` with the span of the kind's key.
    pub boards: Vec<(Spanned<Board>, Thresholds)>,
    /// `[[line]]`s read.
    pub lines: Vec<LineEntry>,
    /// `[[seat]]`s read.
    pub seats: Vec<SeatEntry>,
    /// `[hemicycle]`, with its span.
    pub hemicycle: Option<Spanned<HemicycleSection>>,
    /// `[[sink]]`s read.
    pub sinks: Vec<SinkEntry>,
    /// `[hemicycle]` was present but unreadable: seats it would generate are unknown.
    pub hemicycle_dropped: bool,
    /// Keys of `[hemicycle]` whose values were invalid.
    pub hemicycle_bad_keys: Vec<String>,
    /// Some `[[line]]` was unreadable: a seat's line may be that one.
    pub lines_dropped: bool,
}
