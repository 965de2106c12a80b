//! Webhook sink: the notification as a JSON POST, for chat-ops bridges and paging gateways. The
//! body is the [`Notification`] plus its kind's `severity` (`warning`, `critical`, `emergency`),
//! so a gateway can page on severity without knowing Hemiwatch's kinds.

use std::time::Duration;

use serde::Serialize;

use crate::alert::Severity;
use crate::sink::{http_client, post_json, DeliveryError, Notification, SinkKind};

/// What is POSTed: the notification's fields and the severity derived from its kind (derived at
/// delivery, not stored, so it always follows [`crate::alert::Kind::severity`]).
#[derive(Serialize)]
struct Body<'a> {
    #[serde(flatten)]
    notification: &'a Notification,
    severity: Severity,
}

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
        post_json(&self.client, &self.url, &Self::body(n), SinkKind::Webhook).await
    }

    /// The body of one notification, as it is POSTed (JSON).
    pub fn body(n: &Notification) -> impl Serialize + '_ {
        Body {
            notification: n,
            severity: n.kind.severity(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertState, Kind};

    #[test]
    fn the_body_is_the_notification_with_its_severity() {
        let n = Notification {
            id: 7,
            kind: Kind::OverheatEmergency,
            state: AlertState::Firing,
            seat: Some(3),
            label: Some("A-01-03".into()),
            sector: Some("A".into()),
            line: None,
            summary: "hot".into(),
            started_at_ms: 1,
            resolved_at_ms: None,
            predicted_critical_at_ms: None,
        };
        let v = serde_json::to_value(WebhookSink::body(&n)).unwrap();
        assert_eq!(v["severity"], "emergency");
        assert_eq!(v["kind"], "overheat_emergency");
        assert_eq!(v["seat"], 3);
        let back: Notification = serde_json::from_value(v).unwrap();
        assert_eq!(back, n, "a receiver reading a Notification still can");
    }
}
