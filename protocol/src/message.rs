//! The messages seats and the host exchange, as serde types encoded with postcard.
//!
//! A message's *kind* travels in the frame's address field (see [`crate::frame`]); the bytes after
//! it are the postcard encoding of the variant's struct. Kinds below 8 go seat → host, kinds 8 and
//! above go host → seat, so a receiver can reject a frame that travels the wrong way (an RS-485
//! echo of its own transmission, or a spoof) before looking at its payload.

use heapless::Vec;
use serde::{Deserialize, Serialize};

/// Highest number of temperature channels one `Telemetry` carries: the 3-bit count in the status
/// byte could say 7, but seat boards have at most four sensor footprints (CPU, PSU, two on the
/// console PCB).
pub const MAX_TEMPS: usize = 4;

/// Which direction and which variant a frame carries; the low 4 bits of the frame's address field.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum MessageKind {
    /// Seat → host: I booted (or lost the host), here is who I am; please open a session.
    Hello = 0,
    /// Seat → host: periodic measurements and status flags.
    Telemetry = 1,
    /// Seat → host: a fault or state change the seat wants on record now, not at the next sample.
    Event = 2,
    /// Seat → host: a host command was applied (or refused).
    Ack = 3,
    /// Host → seat: the session nonce that makes every later frame of this boot unreplayable.
    Session = 8,
    /// Host → seat: new telemetry period and local trip threshold.
    SetConfig = 9,
    /// Host → seat: enter (or leave) safe mode so the standby console takes over.
    Failover = 10,
    /// Host → seat: blink the seat's LED so a technician finds it in the hemicycle.
    Identify = 11,
    /// Host → seat: liveness probe; the seat answers with `Ack` and knows the host is alive.
    Ping = 12,
    /// Host → all seats of a line: bus-access control, opens a round of seat turns. Not a
    /// [`Message`]: it is unauthenticated and decoded by [`crate::bus::Beacon::from_frame`].
    Beacon = 13,
}

impl MessageKind {
    /// Decodes the 4-bit kind field; `None` for values this protocol version does not define.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0 => Self::Hello,
            1 => Self::Telemetry,
            2 => Self::Event,
            3 => Self::Ack,
            8 => Self::Session,
            9 => Self::SetConfig,
            10 => Self::Failover,
            11 => Self::Identify,
            12 => Self::Ping,
            13 => Self::Beacon,
            _ => return None,
        })
    }

    /// True for kinds a seat sends; the host rejects frames of the other direction.
    pub const fn is_uplink(self) -> bool {
        (self as u8) < 8
    }

    /// Stable lower-case name, used in logs, JSON output and metric labels.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Hello => "hello",
            Self::Telemetry => "telemetry",
            Self::Event => "event",
            Self::Ack => "ack",
            Self::Session => "session",
            Self::SetConfig => "set_config",
            Self::Failover => "failover",
            Self::Identify => "identify",
            Self::Ping => "ping",
            Self::Beacon => "beacon",
        }
    }
}

/// Version of the seat firmware image, reported in `Hello` so technicians see mixed fleets.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FirmwareVersion {
    /// Semver major.
    pub major: u8,
    /// Semver minor.
    pub minor: u8,
    /// Semver patch.
    pub patch: u8,
}

/// Which hardware a seat runs on, so the host can apply per-board thresholds.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BoardKind {
    /// The lm3s6965evb board emulated by QEMU: the CI hardware-in-the-loop rig.
    QemuLm3s6965,
    /// STM32F411 "Black Pill": the real seat board.
    BlackPillF411,
    /// A seat simulated by `hemiwatch sim` / `hemiwatch demo`.
    Simulated,
}

/// Why the seat's CPU last reset; a watchdog reset means the firmware hung and must be looked at.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResetCause {
    /// Power applied (or the cause register was unreadable).
    PowerOn,
    /// The independent watchdog fired: the main loop stopped being healthy.
    Watchdog,
    /// The firmware asked for a reset.
    Software,
    /// Reset pin (or, on a board that cannot tell, a brown-out).
    External,
    /// The firmware panicked or took a HardFault, recorded where, and reset itself at once.
    Panic,
    /// The supply dipped below the brown-out threshold.
    BrownOut,
}

/// Seat → host at boot and whenever the seat has lost the host: identity and capabilities.
///
/// `counter` is the seat's frame counter for this frame, carried in full because a host that has
/// never heard this boot cannot reconstruct it from the 4-bit freshness field; the MAC covers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Hello {
    /// Minor protocol version spoken by the seat (the major one is in every frame header).
    pub protocol_minor: u8,
    /// Firmware image version.
    pub firmware: FirmwareVersion,
    /// Hardware kind.
    pub board: BoardKind,
    /// Random per boot: tells a reboot from a re-hello, and binds the host's `Session` reply.
    pub boot_id: u32,
    /// Full frame counter of this `Hello` (see the type docs).
    pub counter: u32,
    /// Bitmap of temperature channels fitted (bit n = [`Channel`] n present).
    pub sensors: u8,
    /// Why the seat last reset.
    pub reset: ResetCause,
    /// Telemetry period in ms the seat runs with: the host derives its silence deadline from it.
    pub period_ms: u16,
}

impl Hello {
    /// A simulated seat's `Hello` at power-on (firmware 1.0.0, one sensor, boot id 0, counter 0)
    /// announcing `period_ms`: the message the tests, benchmarks and fuzz drivers open a
    /// handshake with, defined once.
    pub const fn simulated(period_ms: u16) -> Self {
        Self {
            protocol_minor: crate::PROTOCOL_MINOR,
            firmware: FirmwareVersion {
                major: 1,
                minor: 0,
                patch: 0,
            },
            board: BoardKind::Simulated,
            boot_id: 0,
            counter: 0,
            sensors: 1,
            reset: ResetCause::PowerOn,
            period_ms,
        }
    }
}

/// Status bits of a `Telemetry` frame.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Flags(u8);

impl Flags {
    /// A fitted sensor did not answer or answered garbage: temperatures may be missing.
    pub const SENSOR_FAULT: u8 = 0x01;
    /// The seat tripped on its own (temperature ≥ trip for N samples) and is in safe mode.
    pub const LOCAL_TRIP: u8 = 0x02;
    /// The last reset was the watchdog's (stays set for the whole boot).
    pub const WATCHDOG_RESET: u8 = 0x04;
    /// The host ordered failover: the seat is in safe mode and the standby console votes.
    pub const FAILOVER_ACTIVE: u8 = 0x08;
    /// The identify LED is blinking.
    pub const IDENTIFY: u8 = 0x10;
    /// Every defined bit; the status byte's top 3 bits carry the temperature count.
    pub const ALL: u8 = 0x1F;

    /// Builds flags from bits, dropping undefined ones.
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits & Self::ALL)
    }
    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// True when every bit of `mask` is set.
    pub const fn contains(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
    /// Sets or clears the bits of `mask`.
    pub fn set(&mut self, mask: u8, on: bool) {
        if on {
            self.0 |= mask & Self::ALL;
        } else {
            self.0 &= !mask;
        }
    }
    /// Safe mode is entered either by a local trip or by a host failover order.
    pub const fn safe_mode(self) -> bool {
        self.0 & (Self::LOCAL_TRIP | Self::FAILOVER_ACTIVE) != 0
    }
}

/// Seat → host, every telemetry period: the measurement Hemiwatch predicts overheating from.
///
/// On the wire (postcard, as a tuple): `uptime_min` varint, one status byte (flags in bits 0–4,
/// temperature count in bits 5–7), each temperature as a zig-zag varint, `supply_mv` varint.
/// Packing the count into the status byte instead of a separate length prefix is what keeps the
/// frame within its 16/24-byte budget (see the crate docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Telemetry {
    /// Minutes since boot. Minutes keep the varint at 2 bytes for 11 days of uptime; finer
    /// timing comes from the frame counter and the host's clock.
    pub uptime_min: u32,
    /// Status bits.
    pub flags: Flags,
    /// Temperatures in centi-°C (0.01 °C), in channel order (see [`Channel`]): channel 0 is the
    /// console's sensor, channel 1 the seat MCU's die. A channel is present only with every
    /// channel before it, so when the console's sensor fails the frame carries no temperature at
    /// all (and `SENSOR_FAULT`) — a die reading can never slide into channel 0's place.
    pub temps: Vec<i16, MAX_TEMPS>,
    /// The MCU's supply rail (VDDA on the Black Pill) in millivolts; 0 when the board cannot
    /// measure it (the QEMU rig board).
    pub supply_mv: u16,
}

/// What each temperature channel of [`Telemetry::temps`] measures (its index), and the bit of
/// [`Hello::sensors`] that says it is fitted.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Channel {
    /// The console's own temperature: the TMP105 on the console's board, next to the parts that
    /// overheat. The only channel the host detects on, stores as the seat's temperature and
    /// alerts on; the seat's local trip uses it too.
    Console = 0,
    /// The seat MCU's die temperature (STM32F411 internal sensor): a second, independent witness
    /// that the host stores and shows but never detects on — it follows the MCU's own dissipation,
    /// and uncalibrated its absolute value is off by up to ~45 °C from chip to chip (RM0383
    /// §11.10; see `hemiwatch_firmware::analog`). The QEMU board has none.
    Die = 1,
}

impl Telemetry {
    /// The console's temperature (channel 0, [`Channel::Console`]), centi-°C: the one temperature
    /// the host stores, detects on and shows for a seat, defined here once for every reader.
    /// `None` when the console's sensor failed (the die channel is never taken instead).
    pub fn console(&self) -> Option<i16> {
        self.channel(Channel::Console)
    }

    /// One channel's reading, centi-°C, if the frame carries it.
    pub fn channel(&self, c: Channel) -> Option<i16> {
        self.temps.get(c as usize).copied()
    }
}

impl Serialize for Telemetry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let n = self.temps.len();
        let mut t = s.serialize_tuple(3 + n)?;
        t.serialize_element(&self.uptime_min)?;
        // n ≤ MAX_TEMPS = 4 fits the 3-bit field.
        t.serialize_element(&(self.flags.bits() | ((n as u8) << 5)))?;
        for temp in &self.temps {
            t.serialize_element(temp)?;
        }
        t.serialize_element(&self.supply_mv)?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for Telemetry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Telemetry;
            fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
                f.write_str("a telemetry tuple")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Telemetry, A::Error> {
                use serde::de::Error;
                let missing = || A::Error::custom("telemetry truncated");
                let uptime_min: u32 = seq.next_element()?.ok_or_else(missing)?;
                let status: u8 = seq.next_element()?.ok_or_else(missing)?;
                let count = usize::from(status >> 5);
                if count > MAX_TEMPS {
                    return Err(A::Error::custom("more temperatures than channels"));
                }
                let mut temps = Vec::new();
                for _ in 0..count {
                    let t: i16 = seq.next_element()?.ok_or_else(missing)?;
                    // Cannot fail: count ≤ MAX_TEMPS was checked above.
                    let _ = temps.push(t);
                }
                let supply_mv: u16 = seq.next_element()?.ok_or_else(missing)?;
                Ok(Telemetry {
                    uptime_min,
                    flags: Flags::from_bits(status),
                    temps,
                    supply_mv,
                })
            }
        }
        // The longest form: uptime, status, four temperatures, supply.
        d.deserialize_tuple(3 + MAX_TEMPS, V)
    }
}

/// Seat → host fault and state-change codes. An open set (a newtype, not an enum) so that a newer
/// seat's code reaches an older host as "unknown code 17" instead of failing the whole frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FaultCode(pub u8);

impl FaultCode {
    /// A fitted sensor stopped answering on I2C.
    pub const SENSOR_LOST: Self = Self(1);
    /// A lost sensor answers again.
    pub const SENSOR_RECOVERED: Self = Self(2);
    /// The seat tripped on its own temperature and entered safe mode.
    pub const LOCAL_TRIP: Self = Self(3);
    /// The local trip cleared (temperature back under trip minus hysteresis).
    pub const LOCAL_TRIP_CLEARED: Self = Self(4);
    /// A `SetConfig` was out of range and ignored.
    pub const CONFIG_REJECTED: Self = Self(5);
    /// The provisioning block is missing or corrupt.
    pub const UNPROVISIONED: Self = Self(6);
    /// The UART receive buffer overflowed: host commands may have been lost.
    pub const LINK_OVERRUN: Self = Self(7);
    /// The seat's crystal did not start (or failed and the clock security system switched it
    /// off): the seat runs from its internal RC oscillator, whose drift may corrupt UART bytes.
    pub const CLOCK_FALLBACK: Self = Self(8);
    /// The last boot ended in a crash (the `Hello` of this boot says `ResetCause::Panic`);
    /// detail: the panic's source line (saturated at 32 767), or 0 for a HardFault (whose PC is
    /// in the seat's log).
    pub const CRASHED: Self = Self(9);

    /// Stable name for logs and JSON; `None` for codes this version does not know.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "sensor_lost",
            2 => "sensor_recovered",
            3 => "local_trip",
            4 => "local_trip_cleared",
            5 => "config_rejected",
            6 => "unprovisioned",
            7 => "link_overrun",
            8 => "clock_fallback",
            9 => "crashed",
            _ => return None,
        })
    }
}

/// Seat → host: a fault or state change, sent when it happens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Event {
    /// What happened.
    pub code: FaultCode,
    /// Code-specific detail (e.g. the channel, or the temperature in centi-°C).
    pub detail: i16,
}

/// Outcome of a host command.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AckStatus {
    /// Applied.
    Ok,
    /// Understood but refused (e.g. an out-of-range `SetConfig`).
    Rejected,
}

/// Seat → host: the host frame with this counter was handled. The host's failover action is not
/// done until it sees this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ack {
    /// The host frame counter being acknowledged.
    pub counter: u32,
    /// Kind of the acknowledged command.
    pub of: u8,
    /// Applied or refused.
    pub status: AckStatus,
}

/// Host → seat: opens a session. Every later frame of this boot is MACed under `nonce`, so no frame
/// captured under an earlier session (before a reboot, or before a re-hello) verifies again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Session {
    /// Fresh random value chosen by the host.
    pub nonce: u64,
    /// The `boot_id` of the `Hello` this answers: a `Session` for another boot is ignored.
    pub boot_id: u32,
    /// The `counter` of the `Hello` this answers: a replayed older `Session` is ignored.
    pub hello_counter: u32,
}

/// Host → seat: operating parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SetConfig {
    /// Telemetry period in milliseconds.
    pub period_ms: u16,
    /// Local thermal trip threshold in centi-°C.
    pub trip_centi: i16,
    /// Consecutive samples at or above the trip before the seat trips.
    pub trip_samples: u8,
}

/// Host → seat: enter (`active = true`) or leave safe mode so the standby takes over the vote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Failover {
    /// Enter (true) or release (false) failover.
    pub active: bool,
}

/// Host → seat: blink the identify LED for this many seconds (0 stops it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Identify {
    /// Duration in seconds.
    pub seconds: u8,
}

/// Host → seat: liveness probe, answered with `Ack`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ping {}

/// Every message of the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Message {
    /// See [`Hello`].
    Hello(Hello),
    /// See [`Telemetry`].
    Telemetry(Telemetry),
    /// See [`Event`].
    Event(Event),
    /// See [`Ack`].
    Ack(Ack),
    /// See [`Session`].
    Session(Session),
    /// See [`SetConfig`].
    SetConfig(SetConfig),
    /// See [`Failover`].
    Failover(Failover),
    /// See [`Identify`].
    Identify(Identify),
    /// See [`Ping`].
    Ping(Ping),
}

impl Message {
    /// The kind field of the frame carrying this message.
    pub const fn kind(&self) -> MessageKind {
        match self {
            Self::Hello(_) => MessageKind::Hello,
            Self::Telemetry(_) => MessageKind::Telemetry,
            Self::Event(_) => MessageKind::Event,
            Self::Ack(_) => MessageKind::Ack,
            Self::Session(_) => MessageKind::Session,
            Self::SetConfig(_) => MessageKind::SetConfig,
            Self::Failover(_) => MessageKind::Failover,
            Self::Identify(_) => MessageKind::Identify,
            Self::Ping(_) => MessageKind::Ping,
        }
    }

    /// Postcard-encodes the variant's struct into `out`, returning the bytes written.
    pub fn encode_payload<'a>(&self, out: &'a mut [u8]) -> Result<&'a mut [u8], postcard::Error> {
        match self {
            Self::Hello(m) => postcard::to_slice(m, out),
            Self::Telemetry(m) => postcard::to_slice(m, out),
            Self::Event(m) => postcard::to_slice(m, out),
            Self::Ack(m) => postcard::to_slice(m, out),
            Self::Session(m) => postcard::to_slice(m, out),
            Self::SetConfig(m) => postcard::to_slice(m, out),
            Self::Failover(m) => postcard::to_slice(m, out),
            Self::Identify(m) => postcard::to_slice(m, out),
            Self::Ping(m) => postcard::to_slice(m, out),
        }
    }

    /// Decodes a payload of the given kind. Trailing bytes are an error: a payload that does not
    /// end where its struct ends was not written by this protocol version.
    pub fn decode_payload(kind: MessageKind, payload: &[u8]) -> Result<Self, postcard::Error> {
        fn exact<'a, T: Deserialize<'a>>(p: &'a [u8]) -> Result<T, postcard::Error> {
            let (v, rest) = postcard::take_from_bytes(p)?;
            if rest.is_empty() {
                Ok(v)
            } else {
                Err(postcard::Error::DeserializeBadEncoding)
            }
        }
        Ok(match kind {
            MessageKind::Hello => Self::Hello(exact(payload)?),
            MessageKind::Telemetry => Self::Telemetry(exact(payload)?),
            MessageKind::Event => Self::Event(exact(payload)?),
            MessageKind::Ack => Self::Ack(exact(payload)?),
            MessageKind::Session => Self::Session(exact(payload)?),
            MessageKind::SetConfig => Self::SetConfig(exact(payload)?),
            MessageKind::Failover => Self::Failover(exact(payload)?),
            MessageKind::Identify => Self::Identify(exact(payload)?),
            MessageKind::Ping => Self::Ping(exact(payload)?),
            // A bus-access control frame, not a message of a seat's session: see `crate::bus`.
            MessageKind::Beacon => return Err(postcard::Error::DeserializeBadEncoding),
        })
    }
}

#[cfg(test)]
mod channel_tests {
    use super::*;

    /// A die hotter than the console must not be read as the console's temperature, and a frame
    /// without the console's channel has no console temperature.
    #[test]
    fn the_console_is_channel_0_whatever_the_die_reads() {
        let mut t = Telemetry::default();
        assert_eq!(t.console(), None);
        t.temps.extend_from_slice(&[2_500, 9_000]).unwrap();
        assert_eq!(t.console(), Some(2_500));
        assert_eq!(t.channel(Channel::Die), Some(9_000));
    }
}
