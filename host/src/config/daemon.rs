//! `[daemon]`: where the dashboard and API listen, the API token (inline or from an environment
//! variable, which keeps it out of the file), the data folder and the log format.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::de::Deserializer;
use serde::Deserialize;
use serde_spanned::Spanned;

use super::defaults::{DEFAULT_HTTP_BIND, DEFAULT_HTTP_PORT};
use super::resolve::Resolver;
use super::schema::{deserialize_str_with, File, LogFormat};

/// An `IP:PORT` to listen on. Its own type so that `localhost:<port>` gets a sentence rather than
/// the standard library's "invalid socket address syntax".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindAddr(pub SocketAddr);

impl<'de> Deserialize<'de> for BindAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The examples are the default bind and the same port on every interface.
        deserialize_str_with(d, &format!("an address such as \"{DEFAULT_HTTP_BIND}\""), |v| {
            v.parse().map(BindAddr).map_err(|_| {
                format!(
                    "\"{v}\" is not an IP:PORT address; write e.g. \"{DEFAULT_HTTP_BIND}\" or \"0.0.0.0:{DEFAULT_HTTP_PORT}\""
                )
            })
        })
    }
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

impl Resolver<'_> {
    /// The HTTP bind (default [`DEFAULT_HTTP_BIND`]) and the API token, if any.
    pub(super) fn daemon(&mut self, file: &File) -> (SocketAddr, Option<String>) {
        let d = &file.daemon;
        let bind = d
            .http_bind
            .as_ref()
            .map(|b| b.get_ref().0)
            .unwrap_or(DEFAULT_HTTP_BIND);
        let token = match (&d.api_token, &d.api_token_env) {
            (Some(_), Some(env)) => {
                self.err(env.span(), "set api_token or api_token_env, not both");
                None
            }
            (Some(t), None) => {
                if t.get_ref().trim().is_empty() {
                    self.err(
                        t.span(),
                        "api_token is empty; remove it or give a long random value",
                    );
                    None
                } else {
                    Some(t.get_ref().clone())
                }
            }
            (None, Some(env)) => {
                let name = env.get_ref();
                if name.is_empty() || name.contains('=') || name.contains('\0') {
                    self.err(
                        env.span(),
                        format!("api_token_env \"{name}\" is not an environment variable name"),
                    );
                    None
                } else if self.read_files {
                    match (self.env)(name) {
                        Ok(v) if !v.trim().is_empty() => Some(v),
                        Ok(_) => {
                            self.err(
                                env.span(),
                                format!("api_token_env names {name}, but that environment variable is empty"),
                            );
                            None
                        }
                        Err(std::env::VarError::NotPresent) => {
                            self.err(
                                env.span(),
                                format!(
                                    "api_token_env names {name}, but that environment variable is not set"
                                ),
                            );
                            None
                        }
                        Err(std::env::VarError::NotUnicode(_)) => {
                            self.err(
                                env.span(),
                                format!("environment variable {name} (api_token_env) is not valid UTF-8"),
                            );
                            None
                        }
                    }
                } else {
                    None
                }
            }
            (None, None) => None,
        };
        let token = token.filter(|t| {
            let bits = crate::http::token_bits(t);
            let strong = bits >= crate::http::MIN_TOKEN_BITS;
            if !strong {
                let span = d.api_token.as_ref().or(d.api_token_env.as_ref()).map(|s| s.span());
                self.err(
                    span.unwrap_or(0..0),
                    format!(
                        "the API token is too short: about {bits:.0} bits, at least 128 needed (e.g. 32 hex digits from `openssl rand -hex 16`)"
                    ),
                );
            }
            strong
        });
        (bind, token)
    }
}
