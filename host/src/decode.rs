//! `hemiwatch decode`: raw bytes from the wire → one JSON object per frame, for technicians
//! reading a capture (`socat`, `picocom --logfile`, `hemiwatch sim --out`).
//!
//! Without keys nothing is verified: the output says what the bytes claim, with
//! `"authenticated": true` meaning "carries a MAC", not "MAC checked".

use std::collections::HashMap;
use std::io::{self, BufWriter, Read, Write};

use hemiwatch_protocol::{link::next_counter, FrameDecoder, Message, SeatId, MAX_WIRE};
use serde_json::{json, Value};

/// Totals printed to stderr at the end of a decode.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DecodeSummary {
    /// Frames decoded.
    pub frames: u64,
    /// Errors (bad COBS, bad CRC, …).
    pub errors: u64,
}

/// Flags of a telemetry frame as names.
pub fn flag_names(flags: hemiwatch_protocol::Flags) -> Vec<&'static str> {
    use hemiwatch_protocol::Flags as F;
    [
        (F::SENSOR_FAULT, "sensor_fault"),
        (F::LOCAL_TRIP, "local_trip"),
        (F::WATCHDOG_RESET, "watchdog_reset"),
        (F::FAILOVER_ACTIVE, "failover_active"),
        (F::IDENTIFY, "identify"),
    ]
    .into_iter()
    .filter(|(bit, _)| flags.contains(*bit))
    .map(|(_, name)| name)
    .collect()
}

/// The message's fields as JSON (temperatures in °C).
pub fn message_json(msg: &Message) -> Value {
    match msg {
        Message::Hello(h) => json!({
            "protocol": format!("{}.{}", hemiwatch_protocol::PROTOCOL_MAJOR, h.protocol_minor),
            "firmware": format!("{}.{}.{}", h.firmware.major, h.firmware.minor, h.firmware.patch),
            "board": format!("{:?}", h.board),
            "boot_id": h.boot_id,
            "sensors": h.sensors,
            "reset": format!("{:?}", h.reset),
            "period_ms": h.period_ms,
        }),
        Message::Telemetry(t) => json!({
            "uptime_min": t.uptime_min,
            "temps_c": t.temps.iter().map(|c| f64::from(*c) / 100.0).collect::<Vec<_>>(),
            "supply_mv": t.supply_mv,
            "flags": flag_names(t.flags),
        }),
        Message::Event(e) => json!({"code": e.code.0, "name": e.code.name(), "detail": e.detail}),
        Message::Ack(a) => json!({"counter": a.counter, "of": a.of, "status": format!("{:?}", a.status)}),
        Message::Session(s) => json!({"boot_id": s.boot_id, "hello_counter": s.hello_counter}),
        Message::SetConfig(c) => json!({
            "period_ms": c.period_ms, "trip_c": f64::from(c.trip_centi) / 100.0, "trip_samples": c.trip_samples
        }),
        Message::Failover(f) => json!({"active": f.active}),
        Message::Identify(i) => json!({"seconds": i.seconds}),
        Message::Ping(_) => json!({}),
    }
}

/// Decodes everything `input` yields, writing JSON lines to `output`.
pub fn decode_stream(mut input: impl Read, output: impl Write) -> io::Result<DecodeSummary> {
    let mut out = BufWriter::new(output);
    let mut decoder = FrameDecoder::<MAX_WIRE>::new();
    let mut counters: HashMap<(SeatId, bool), u32> = HashMap::new();
    let mut summary = DecodeSummary::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut offset = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut lines: Vec<Value> = Vec::new();
        decoder.feed(&buf[..n], |r| {
            let value = match r.and_then(|f| f.message().map(|m| (f, m))) {
                Ok((f, msg)) => {
                    summary.frames += 1;
                    let h = f.header;
                    // Reconstruct the counter per seat and direction, as a receiver would.
                    let key = (h.seat, h.kind.is_uplink());
                    let seq = match &msg {
                        Message::Hello(hello) => hello.counter,
                        Message::Session(_) => 0,
                        _ => next_counter(counters.get(&key).copied(), h.counter_low),
                    };
                    counters.insert(key, seq);
                    let mut v = json!({
                        "seat": h.seat,
                        "type": h.kind.name(),
                        "seq": seq,
                        "authenticated": h.authenticated,
                    });
                    if let (Value::Object(o), Value::Object(fields)) = (&mut v, message_json(&msg)) {
                        o.extend(fields);
                    }
                    v
                }
                Err(e) => {
                    summary.errors += 1;
                    json!({"error": e.name(), "detail": e.to_string(), "near_byte": offset})
                }
            };
            lines.push(value);
        });
        offset += n as u64;
        for v in lines {
            serde_json::to_writer(&mut out, &v)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hemiwatch_protocol::{encode_unauthenticated, Flags, Telemetry};

    #[test]
    fn frames_and_errors_become_json_lines() {
        let mut wire = Vec::new();
        let mut buf = [0u8; MAX_WIRE];
        for counter in [16u32, 17] {
            let t = Telemetry {
                uptime_min: 3,
                flags: Flags::from_bits(Flags::FAILOVER_ACTIVE),
                temps: heapless::Vec::from_slice(&[7150, -1000]).unwrap(),
                supply_mv: 3300,
            };
            wire.extend_from_slice(
                encode_unauthenticated(12, counter, &Message::Telemetry(t), &mut buf).unwrap(),
            );
        }
        wire.extend_from_slice(&[1, 2, 3, 0]); // garbage
        let mut out = Vec::new();
        let summary = decode_stream(&wire[..], &mut out).unwrap();
        assert_eq!(summary, DecodeSummary { frames: 2, errors: 1 });
        let lines: Vec<Value> = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines[0]["seat"], 12);
        assert_eq!(lines[0]["type"], "telemetry");
        assert_eq!(lines[0]["temps_c"], json!([71.5, -10.0]));
        assert_eq!(lines[0]["flags"], json!(["failover_active"]));
        assert_eq!(
            lines[1]["seq"].as_u64().unwrap(),
            lines[0]["seq"].as_u64().unwrap() + 1
        );
        assert!(lines[2]["error"].is_string());
    }
}
