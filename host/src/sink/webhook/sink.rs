//! Webhook sink: the notification as a JSON POST, for chat-ops bridges and paging gateways.

use std::time::Duration;

use crate::sink::{http_client, DeliveryError, Notification};

/// POSTs each notification as JSON to a URL.
#[derive(Clone, Debug)]
pub struct WebhookSink {
    url: String,
    client: reqwest::Client,
}

impl WebhookSink {
    /// A sink posting to `url`, giving up on one attempt after `timeout`.
    pub fn new(url: impl Into<String>, timeout: Duration) -> Self {
        Self {
            url: url.into(),
            client: http_client(timeout),
        }
    }

    /// One delivery attempt; any 2xx is success.
    pub async fn deliver(&self, n: &Notification) -> Result<(), DeliveryError> {
        let resp = self
            .client
            .post(&self.url)
            .json(n)
            .send()
            .await
            .map_err(|source| DeliveryError::Transport {
                sink: "webhook",
                source,
            })?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Status {
                sink: "webhook",
                status: resp.status().as_u16(),
            })
        }
    }
}
