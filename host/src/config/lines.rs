//! `[[line]]`: the serial lines (one RS-485 concentrator each) and where to reach them. Checked
//! here: names unique and non-empty, a baud above 0, a path `Endpoint` understands, a TCP port.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::defaults::DEFAULT_BAUD;
use super::resolve::Resolver;
use super::schema::File;
use super::settings::LineSettings;
use crate::source::{Endpoint, EndpointError};

/// `[[line]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LineEntry {
    /// Name seats refer to.
    pub name: Spanned<String>,
    /// Device path, `unix:PATH` or `tcp:HOST:PORT`.
    pub path: Spanned<String>,
    /// Serial speed (default [`DEFAULT_BAUD`]).
    pub baud: Option<Spanned<u32>>,
    /// Jitter budget of the bus schedule, µs (default
    /// [`DEFAULT_JITTER_US`](super::settings::DEFAULT_JITTER_US)).
    pub jitter_us: Option<Spanned<u16>>,
}

impl Resolver<'_> {
    /// The lines, and the names of every line written (even one with a bad path, so that its
    /// seats are not also reported as being on an undefined line).
    pub(super) fn lines(&mut self, file: &File) -> (Vec<LineSettings>, Vec<String>) {
        let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
        let mut out = Vec::new();
        for l in &file.lines {
            let name = l.name.get_ref().trim().to_string();
            if name.is_empty() {
                self.err(l.name.span(), "a line needs a name");
                continue;
            }
            if let Some(first) = seen.get(&name) {
                let at = self.src.at(first.clone());
                self.err(
                    l.name.span(),
                    format!("line `{name}` is defined twice (first at {at})"),
                );
                continue;
            }
            seen.insert(name.clone(), l.name.span());
            let baud = l.baud.as_ref().map(|b| *b.get_ref()).unwrap_or(DEFAULT_BAUD);
            if baud == 0 {
                if let Some(b) = &l.baud {
                    self.err(b.span(), format!("baud of line `{name}` must be above 0"));
                }
            }
            let path = l.path.get_ref();
            match Endpoint::parse(path, baud) {
                Ok(endpoint) => {
                    if let Endpoint::Tcp(addr) = &endpoint {
                        let port_ok = addr
                            .rsplit_once(':')
                            .and_then(|(_, p)| p.parse::<u16>().ok())
                            .is_some_and(|p| p > 0);
                        if !port_ok {
                            self.err(
                                l.path.span(),
                                format!(
                                    "path \"{path}\" of line `{name}` needs a port from 1 to 65535 (tcp:HOST:PORT)"
                                ),
                            );
                        }
                    }
                    let jitter_us = l
                        .jitter_us
                        .as_ref()
                        .map_or(super::settings::DEFAULT_JITTER_US, |j| *j.get_ref());
                    out.push(LineSettings {
                        name,
                        endpoint,
                        baud,
                        jitter_us,
                    });
                }
                Err(e) => {
                    let why = match e {
                        EndpointError::Malformed(_) => {
                            "is not a device path, unix:PATH or tcp:HOST:PORT".to_string()
                        }
                        other => other.to_string(),
                    };
                    self.err(l.path.span(), format!("path \"{path}\" of line `{name}` {why}"))
                }
            }
        }
        (out, seen.into_keys().collect())
    }
}
