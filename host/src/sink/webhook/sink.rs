//! Webhook sink: the notification as a JSON POST, for chat-ops bridges and paging gateways.

use std::time::Duration;

use crate::sink::{http_client, post_json, DeliveryError, Notification, SinkKind};

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
        post_json(&self.client, &self.url, n, SinkKind::Webhook).await
    }
}
