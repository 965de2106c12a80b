//! How to reach a line: a serial device (tokio-serial), a Unix socket or a TCP stream.

use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

/// A line's address, as written in the config (`path = "..."`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A serial device (`/dev/ttyUSB0`, a pty `/dev/pts/7`) at a baud rate.
    Serial {
        /// Device path.
        path: PathBuf,
        /// Baud rate; ignored by ptys.
        baud: u32,
    },
    /// `unix:/path/to/socket` — e.g. QEMU's `-serial unix:seat.sock,server`.
    Unix(PathBuf),
    /// `tcp:host:port` — a serial-over-IP concentrator or QEMU's `-serial tcp:...`.
    Tcp(String),
}

/// Why an endpoint string is not usable or could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The string is empty or malformed.
    #[error("line path {0:?} is not a device path, unix:PATH or tcp:HOST:PORT")]
    Malformed(String),
    /// Opening failed (absent device, connection refused…): retried with backoff by the line.
    #[error("cannot open {endpoint}: {source}")]
    Open {
        /// What was opened.
        endpoint: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// Something a line can read seat bytes from and write commands to.
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}

impl Endpoint {
    /// Parses `path` from the config; `baud` applies to serial devices.
    pub fn parse(path: &str, baud: u32) -> Result<Self, EndpointError> {
        let path = path.trim();
        if let Some(p) = path.strip_prefix("unix:") {
            if p.is_empty() {
                return Err(EndpointError::Malformed(path.into()));
            }
            Ok(Self::Unix(p.into()))
        } else if let Some(addr) = path.strip_prefix("tcp:") {
            if !addr.contains(':') {
                return Err(EndpointError::Malformed(path.into()));
            }
            Ok(Self::Tcp(addr.into()))
        } else if path.is_empty() {
            Err(EndpointError::Malformed(path.into()))
        } else {
            Ok(Self::Serial {
                path: path.into(),
                baud,
            })
        }
    }

    /// Opens the stream. Serial devices are put in raw 8N1 mode by tokio-serial.
    pub async fn open(&self) -> Result<Pin<Box<dyn ByteStream>>, EndpointError> {
        let fail = |source| EndpointError::Open {
            endpoint: self.to_string(),
            source,
        };
        Ok(match self {
            Self::Serial { path, baud } => {
                use tokio_serial::SerialPortBuilderExt;
                let port = tokio_serial::new(path.to_string_lossy(), *baud)
                    .timeout(Duration::from_millis(100))
                    .open_native_async()
                    .map_err(|e| fail(std::io::Error::other(e)))?;
                Box::pin(port)
            }
            Self::Unix(path) => Box::pin(tokio::net::UnixStream::connect(path).await.map_err(fail)?),
            Self::Tcp(addr) => {
                let s = tokio::net::TcpStream::connect(addr).await.map_err(fail)?;
                // Frames are tiny and latency matters more than packet count.
                let _ = s.set_nodelay(true);
                Box::pin(s)
            }
        })
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Serial { path, baud } => write!(f, "{} @ {baud} baud", path.display()),
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
            Self::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(
            Endpoint::parse("/dev/ttyUSB0", 115200).unwrap(),
            Endpoint::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 115200
            }
        );
        assert_eq!(
            Endpoint::parse("unix:/run/s.sock", 0).unwrap(),
            Endpoint::Unix("/run/s.sock".into())
        );
        assert_eq!(
            Endpoint::parse("tcp:127.0.0.1:7000", 0).unwrap(),
            Endpoint::Tcp("127.0.0.1:7000".into())
        );
        assert!(Endpoint::parse("tcp:nohostport", 0).is_err());
        assert!(Endpoint::parse("unix:", 0).is_err());
        assert!(Endpoint::parse("  ", 0).is_err());
    }

    #[tokio::test]
    async fn a_missing_device_is_an_open_error_naming_it() {
        let err = Endpoint::parse("/dev/hemiwatch-does-not-exist", 115200)
            .unwrap()
            .open()
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("/dev/hemiwatch-does-not-exist"), "{err}");
    }
}
