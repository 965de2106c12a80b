//! The webhook sink: each notification as a JSON POST, for chat-ops bridges and paging
//! gateways. `config` checks its `[[sink]] kind = "webhook"` entry and builds it.

mod config;
mod sink;

pub(crate) use config::WebhookConfig;
pub use sink::WebhookSink;
