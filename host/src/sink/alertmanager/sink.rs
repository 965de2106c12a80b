//! Alertmanager sink: pushes alerts to a Prometheus Alertmanager through its v2 API
//! (`POST /api/v2/alerts`), so a server room that already runs Alertmanager routes, groups and
//! silences Hemiwatch alerts with the rest. A resolved alert is re-sent with `endsAt` set,
//! which is how Alertmanager learns it resolved.

use std::time::Duration;

use serde_json::{json, Value};

use crate::sink::{http_client, post_json, DeliveryError, Notification, SinkKind};

/// Pushes to one Alertmanager.
#[derive(Clone, Debug)]
pub struct AlertmanagerSink {
    url: String,
    client: reqwest::Client,
}

/// Alertmanager resolves an alert that is not re-sent before `endsAt`; a firing alert gets an
/// `endsAt` this far ahead, and the outbox re-sends firing alerts well within it.
pub const FIRING_TTL: Duration = Duration::from_secs(3600);

fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

impl AlertmanagerSink {
    /// `base` is the Alertmanager's base URL, e.g. `http://127.0.0.1:9093`.
    pub fn new(base: &str, timeout: Duration) -> Self {
        Self {
            url: format!("{}/api/v2/alerts", base.trim_end_matches('/')),
            client: http_client(timeout),
        }
    }

    /// The v2 API body for one notification.
    pub fn body(n: &Notification) -> Value {
        let mut labels = json!({
            "alertname": n.kind,
            "source": "hemiwatch",
            "severity": n.kind.severity().name(),
        });
        if let Some(seat) = n.seat {
            labels["seat"] = json!(seat.to_string());
        }
        for (k, v) in [("label", &n.label), ("sector", &n.sector), ("line", &n.line)] {
            if let Some(v) = v {
                labels[k] = json!(v);
            }
        }
        let mut annotations = json!({"summary": n.summary, "hemiwatch_alert_id": n.id.to_string()});
        if let Some(t) = n.predicted_critical_at_ms {
            annotations["predicted_critical_at"] = json!(rfc3339(t));
        }
        let ends = match n.resolved_at_ms {
            Some(t) => t,
            None => n.started_at_ms.max(crate::unix_ms()) + FIRING_TTL.as_millis() as u64,
        };
        json!([{
            "labels": labels,
            "annotations": annotations,
            "startsAt": rfc3339(n.started_at_ms),
            "endsAt": rfc3339(ends),
        }])
    }

    /// One delivery attempt.
    pub async fn deliver(&self, n: &Notification) -> Result<(), DeliveryError> {
        post_json(&self.client, &self.url, &Self::body(n), SinkKind::Alertmanager).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertState, Kind};

    /// Each tier pages at its own severity: a route on `severity="emergency"` sees only the
    /// emergency tier.
    #[test]
    fn the_severity_label_follows_the_tier() {
        let n = |kind| Notification {
            id: 1,
            kind,
            state: AlertState::Firing,
            seat: Some(3),
            label: None,
            sector: None,
            line: None,
            summary: String::new(),
            started_at_ms: 1,
            resolved_at_ms: None,
            predicted_critical_at_ms: None,
        };
        for (kind, severity) in [
            (Kind::TemperatureWarn, "warning"),
            (Kind::Overheat, "critical"),
            (Kind::OverheatEmergency, "emergency"),
        ] {
            let body = AlertmanagerSink::body(&n(kind));
            assert_eq!(body[0]["labels"]["severity"], severity, "{kind}");
            assert_eq!(body[0]["labels"]["alertname"], kind.name());
        }
    }
}
