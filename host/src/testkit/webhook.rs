//! A webhook receiver for tests that check what the daemon delivered: plain std HTTP/1.1
//! (Content-Length bodies, keep-alive), enough for the daemon's webhook sink and independent of
//! the async runtime the daemon runs on.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// Answers 200 to every POST and keeps the JSON bodies, on a loopback port, for the rest of the
/// test.
#[derive(Clone, Debug)]
pub struct WebhookReceiver {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl WebhookReceiver {
    /// Listens on `port` (0: any free port; a fixed one when a restarted daemon must find it
    /// again) in a background thread.
    pub fn start(port: u16) -> anyhow::Result<Self> {
        Self::start_slow(port, std::time::Duration::ZERO)
    }

    /// Like [`Self::start`], answering each POST only `delay` after it arrived: a slow receiver.
    pub fn start_slow(port: u16, delay: std::time::Duration) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let store = store.clone();
                std::thread::spawn(move || serve(conn, &store, delay));
            }
        });
        Ok(Self { url, received })
    }

    /// Every body received so far.
    pub fn bodies(&self) -> Vec<Value> {
        self.received.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

fn serve(conn: std::net::TcpStream, store: &Mutex<Vec<Value>>, delay: std::time::Duration) {
    use std::io::{BufRead, BufReader, Read};
    let Ok(mut writer) = conn.try_clone() else { return };
    let mut reader = BufReader::new(conn);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        // Request line and headers.
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        std::thread::sleep(delay);
        if let (Ok(v), Ok(mut all)) = (serde_json::from_slice::<Value>(&body), store.lock()) {
            all.push(v);
        }
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}
