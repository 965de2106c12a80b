//! Sources: where seat bytes come from. A *line* is one byte stream that may carry many seats
//! (an RS-485 segment behind a USB adapter, a serial concentrator, a QEMU chardev), so nothing
//! here knows about seats: a line yields frame bodies and takes frames to write. [`LineBus`] is the
//! line's bus access as the active host (beacons and the downlink queue).

mod bus;
mod endpoint;
mod line;

pub use bus::{LineBus, Queued, QUEUE_LIMIT};
pub use endpoint::{Endpoint, EndpointError};
pub use line::{run_line, LineCounters, LineCountersSnapshot, LineEvent, LineHandle, LineId};
