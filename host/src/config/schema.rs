//! The configuration file's shape, as serde reads it. Every table denies unknown keys (a typo
//! such as `temprature` must be an error, not a silently ignored setting), and every value a
//! later check can reject is `Spanned`, so that check can point at it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hemiwatch_protocol::{BoardKind, SeatKey};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_spanned::Spanned;

/// A duration written for humans (`"500ms"`, `"90s"`, `"5m"`, `"24h"`, `"90d"`), parsed by
/// humantime so the config reads like the documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"90s\", \"5m\" or \"24h\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                humantime::parse_duration(v).map(HumanDuration).map_err(|e| {
                    E::custom(format!(
                        "\"{v}\" is not a duration ({e}); write e.g. \"500ms\", \"90s\", \"5m\", \"24h\" or \"90d\""
                    ))
                })
            }
        }
        d.deserialize_str(V)
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
        struct V;
        impl Visitor<'_> for V {
            type Value = HexKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string of 32 hex digits")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HexKey, E> {
                parse_hex_key(v).map(HexKey).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// An `IP:PORT` to listen on. Its own type so that `localhost:7577` gets a sentence rather than
/// the standard library's "invalid socket address syntax".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindAddr(pub SocketAddr);

impl<'de> Deserialize<'de> for BindAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = BindAddr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an address such as \"127.0.0.1:7577\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BindAddr, E> {
                v.parse().map(BindAddr).map_err(|_| {
                    E::custom(format!(
                        "\"{v}\" is not an IP:PORT address; write e.g. \"127.0.0.1:7577\" or \"0.0.0.0:7577\""
                    ))
                })
            }
        }
        d.deserialize_str(V)
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

/// `[daemon]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DaemonSection {
    /// Where the database lives; relative to the config's folder.
    pub data_dir: Option<Spanned<PathBuf>>,
    /// Dashboard/API listen address.
    pub http_bind: Option<Spanned<BindAddr>>,
    /// Bearer token for API writes, inline.
    pub api_token: Option<Spanned<String>>,
    /// Name of the environment variable holding the token (keeps it out of the file).
    pub api_token_env: Option<Spanned<String>>,
    /// Log output format.
    pub log_format: Option<LogFormat>,
}

/// `[storage]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StorageSection {
    /// SQLite file (default `<data_dir>/hemiwatch.sqlite`).
    pub path: Option<Spanned<PathBuf>>,
    /// How long raw samples are kept.
    pub raw_retention: Option<Spanned<HumanDuration>>,
    /// How long 1-minute rollups are kept.
    pub rollup_retention: Option<Spanned<HumanDuration>>,
    /// Longest time a sample waits before commit: the crash loss window.
    pub flush_interval: Option<Spanned<HumanDuration>>,
}

/// `[thresholds]` and `[board.<kind>]`: every field optional, layered global → board → seat.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Thresholds {
    /// °C at which a seat shows as warm.
    pub warn_c: Option<Spanned<f64>>,
    /// °C the seat must not reach; the prediction aims at it.
    pub critical_c: Option<Spanned<f64>>,
    /// How far ahead a predicted crossing of critical raises the alert.
    pub horizon: Option<Spanned<HumanDuration>>,
    /// Expected telemetry period (i64 so that a negative value gets a range sentence).
    pub telemetry_period_ms: Option<Spanned<i64>>,
}

impl Thresholds {
    /// True if this layer sets anything (then its combination is checked at its place).
    pub fn is_set(&self) -> bool {
        self.warn_c.is_some()
            || self.critical_c.is_some()
            || self.horizon.is_some()
            || self.telemetry_period_ms.is_some()
    }

    /// `self` with the values of `over` on top.
    pub fn overlay(&self, over: &Thresholds) -> Thresholds {
        Thresholds {
            warn_c: over.warn_c.clone().or_else(|| self.warn_c.clone()),
            critical_c: over.critical_c.clone().or_else(|| self.critical_c.clone()),
            horizon: over.horizon.clone().or_else(|| self.horizon.clone()),
            telemetry_period_ms: over
                .telemetry_period_ms
                .clone()
                .or_else(|| self.telemetry_period_ms.clone()),
        }
    }
}

/// `[[line]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LineEntry {
    /// Name seats refer to.
    pub name: Spanned<String>,
    /// Device path, `unix:PATH` or `tcp:HOST:PORT`.
    pub path: Spanned<String>,
    /// Serial speed (default 115200).
    pub baud: Option<Spanned<u32>>,
}

/// `[[seat]]`: a new seat (placement and key required) or an override of a generated one.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeatEntry {
    /// Wire address (i64 so that 0, -1 or 70000 get the range sentence, not a type error).
    pub id: Spanned<i64>,
    /// Human label.
    pub label: Option<Spanned<String>>,
    /// Sector of the hemicycle.
    pub sector: Option<Spanned<String>>,
    /// Row, 1 = innermost.
    pub row: Option<Spanned<u16>>,
    /// Index along the whole row, 1 = leftmost.
    pub position: Option<Spanned<u16>>,
    /// Line the seat is wired to.
    pub line: Option<Spanned<String>>,
    /// Inline key.
    pub key: Option<Spanned<HexKey>>,
    /// Key file, relative to the config's folder.
    pub key_file: Option<Spanned<PathBuf>>,
    /// Board kind, for `[board.<kind>]` thresholds.
    pub board: Option<Spanned<Board>>,
    /// Override of `[thresholds] warn_c`.
    pub warn_c: Option<Spanned<f64>>,
    /// Override of `[thresholds] critical_c`.
    pub critical_c: Option<Spanned<f64>>,
    /// Override of `[thresholds] horizon`.
    pub horizon: Option<Spanned<HumanDuration>>,
    /// Override of `[thresholds] telemetry_period_ms`.
    pub telemetry_period_ms: Option<Spanned<i64>>,
    /// Keys whose values were invalid (already reported), so their absence is not reported too.
    #[serde(skip)]
    pub bad_keys: Vec<String>,
}

impl SeatEntry {
    /// The seat's own threshold overrides.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            warn_c: self.warn_c.clone(),
            critical_c: self.critical_c.clone(),
            horizon: self.horizon.clone(),
            telemetry_period_ms: self.telemetry_period_ms.clone(),
        }
    }
}

/// `keys = "demo"` in `[hemicycle]`: the only value, spelled out so that using public demo keys
/// is a visible decision in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub(crate) enum KeysPolicy {
    /// Keys derived by `sim::demo_key` from the public demo secret.
    #[serde(rename = "demo")]
    Demo,
}

/// `[hemicycle]`: generates the seats of a large room from a few numbers.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HemicycleSection {
    /// Sector names, left to right: equal angular wedges.
    pub sectors: Spanned<Vec<Spanned<String>>>,
    /// Seats on each row, innermost first.
    pub row_seats: Spanned<Vec<Spanned<u16>>>,
    /// Id of the first generated seat (default 1).
    pub first_id: Option<Spanned<i64>>,
    /// Sector → line (one RS-485 concentrator per sector or group of sectors).
    pub lines: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
    /// Board kind of every generated seat.
    pub board: Option<Spanned<Board>>,
    /// `"demo"`: public demo keys.
    pub keys: Option<Spanned<KeysPolicy>>,
    /// Folder of `seat-NNNN.key` files.
    pub key_dir: Option<Spanned<PathBuf>>,
}

/// `kind` of a `[[sink]]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SinkKind {
    /// JSON POST.
    Webhook,
    /// A local program.
    Exec,
    /// Alertmanager v2 API.
    Alertmanager,
}

/// `[[sink]]`: one struct for every kind (rather than a tagged enum, which would lose the value
/// positions); which keys a kind needs is checked afterwards.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SinkEntry {
    /// Which sink.
    pub kind: Spanned<SinkKind>,
    /// Webhook / Alertmanager URL.
    pub url: Option<Spanned<String>>,
    /// Exec program.
    pub command: Option<Spanned<String>>,
    /// Exec arguments (refused while `ExecSink` cannot pass them).
    pub args: Option<Spanned<Vec<String>>>,
    /// Per-attempt timeout (default 5 s).
    pub timeout: Option<Spanned<HumanDuration>>,
    /// Keys whose values were invalid (already reported).
    #[serde(skip)]
    pub bad_keys: Vec<String>,
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
