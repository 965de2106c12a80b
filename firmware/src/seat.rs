//! The seat state machine: everything a seat does, independent of the board it runs on.
//!
//! The board owns the peripherals and the clock and calls [`Seat::poll`] from its main loop with
//! the current time in milliseconds, its serial port (embedded-io [`Read`] + [`ReadReady`] +
//! [`Write`]) and nothing else; the seat owns the sensor. `poll` never blocks on input, never
//! panics and never allocates:
//!
//! - **Link**: says `Hello` at boot and every [`HELLO_RETRY_MS`] until the host answers with a
//!   `Session`, and again whenever no verified host frame arrived for [`HOST_TIMEOUT_MS`]
//!   (the host pings every few seconds). The host's simulator runs this very state machine.
//! - **Sampling**: reads the sensor every period whether or not a host listens — the local trip
//!   must protect the seat when the link is gone — and sends `Telemetry` when a session is open.
//! - **Commands**: `Ping` → `Ack`; `SetConfig` validated, applied and `Ack`ed, or refused with
//!   `Ack{Rejected}` and a `CONFIG_REJECTED` event; `Failover` → safe mode + `FAILOVER_ACTIVE` +
//!   `Ack`; `Identify` → `IDENTIFY` flag for the requested seconds + `Ack`.
//! - **Local trip**: temperature ≥ trip for `trip_samples` consecutive conversions (a count
//!   advances at most once per [`tmp105::CONVERSION_MAX_MS`]) → `LOCAL_TRIP`, safe mode and a
//!   `LOCAL_TRIP` event, on the seat's own authority; released after as many consecutive
//!   conversions below trip − [`TRIP_HYSTERESIS_CENTI`]. A sensor lost while hot counts as still
//!   hot; an unknown reading never releases. A 0 °C reading within the first conversion time after
//!   the sensor (re)starts is discarded (its register's reset value, not a conversion). The same thresholds
//!   are programmed into the sensor's own thermostat ([`Thermometer::set_trip`]), whose ALERT
//!   output cuts the load in hardware while the MCU is hung or rebooting.
//! - **Faults**: a failing sensor sets `SENSOR_FAULT`, sends no temperature (never a made-up
//!   value) and raises `SENSOR_LOST` / `SENSOR_RECOVERED` events on the transitions.
//! - **Watchdog**: [`Seat::healthy`] is what the board feeds its watchdog with.

use embedded_io::{Read, ReadReady, Write};
use heapless::Deque;
use hemiwatch_protocol::{
    Ack, AckStatus, BoardKind, Channel, Event, FaultCode, Flags, FrameDecoder, Hello, Message, RawFrame,
    ResetCause, SeatKey, SeatLink, Telemetry, MAX_WIRE, PROTOCOL_MINOR,
};

use crate::fmt::Debug2Format;
use crate::tmp105::{self, AlertLimits};
use crate::FIRMWARE_VERSION;

/// `Hello` is repeated this often until a host answers.
pub const HELLO_RETRY_MS: u64 = 1_000;
/// No verified host frame for this long means the host is lost: say `Hello` again.
pub const HOST_TIMEOUT_MS: u64 = 5_000;
/// Telemetry period at boot, until the host sends a `SetConfig`.
pub const DEFAULT_PERIOD_MS: u16 = 1_000;
/// Local trip threshold at boot: 85 °C, the commercial-grade silicon limit of the console's parts.
pub const DEFAULT_TRIP_CENTI: i16 = 8_500;
/// Consecutive samples at or above the trip before the seat trips, at boot.
pub const DEFAULT_TRIP_SAMPLES: u8 = 3;
/// A trip is released only below trip − 5 °C, so a seat hovering at the threshold does not flap.
pub const TRIP_HYSTERESIS_CENTI: i16 = 500;
/// Shortest accepted period: the UART must carry one 24-byte frame per seat of a line in time.
pub const MIN_PERIOD_MS: u16 = 50;
/// Longest accepted period: beyond a minute the host's silence detection becomes useless.
pub const MAX_PERIOD_MS: u16 = 60_000;
/// Accepted trip thresholds: the TMP105's specified range ([`tmp105::SPECIFIED_MIN_C`] …
/// [`tmp105::MAX_C`]), where its readings are accurate enough to act on.
pub const TRIP_RANGE_CENTI: core::ops::RangeInclusive<i16> =
    tmp105::SPECIFIED_MIN_C * 100..=tmp105::MAX_C * 100;
/// Accepted consecutive-sample counts.
pub const TRIP_SAMPLES_RANGE: core::ops::RangeInclusive<u8> = 1..=60;
/// Consecutive failed UART writes after which the seat declares itself unhealthy (and the board
/// stops feeding the watchdog): a wedged transmitter is recovered by a reset.
pub const MAX_TX_ERRORS: u8 = 8;
/// Events waiting for a session (boot-time faults before the host answers) are kept up to this
/// many; the oldest is dropped beyond.
const EVENT_QUEUE: usize = 4;

/// What a board measures of itself, beside the console's sensor.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct BoardReadings {
    /// The MCU's die temperature, centi-°C (`hemiwatch_protocol::Channel::Die`); `None` when the
    /// board has no such sensor (QEMU) or its conversion failed.
    pub die_centi: Option<i16>,
    /// The MCU's supply, mV; `None` when not measurable (telemetry then says 0).
    pub supply_mv: Option<u16>,
}

/// A temperature sensor as the seat sees it: centi-°C or a failure, nothing in between.
pub trait Thermometer {
    /// One reading in centi-°C; `Err(())` when the sensor does not answer or answers garbage.
    #[allow(clippy::result_unit_err)]
    fn read_centi(&mut self) -> Result<i16, ()>;

    /// The trip thresholds, for a sensor with a thermostat output of its own (the TMP105's
    /// ALERT) that cuts the load in hardware. Called at boot and whenever the trip changes.
    fn set_trip(&mut self, _limits: AlertLimits) {}

    /// True once after the sensor restarted converting (power-up, reconfiguration): until its
    /// first conversion completes (at most [`tmp105::CONVERSION_MAX_MS`]) it reads its reset
    /// value, 0 °C, and such readings are discarded (a real 0 °C then costs one sample at most).
    fn take_restarted(&mut self) -> bool {
        false
    }
}

impl<I: embedded_hal::i2c::I2c> Thermometer for crate::tmp105::Tmp105<I> {
    fn read_centi(&mut self) -> Result<i16, ()> {
        crate::tmp105::Tmp105::read_centi(self).map_err(|e| {
            warn!("tmp105: {}", Debug2Format(&e));
        })
    }

    fn set_trip(&mut self, limits: AlertLimits) {
        self.set_alert(limits);
    }

    fn take_restarted(&mut self) -> bool {
        crate::tmp105::Tmp105::take_restarted(self)
    }
}

/// What the board knows at boot and the seat reports in `Hello`.
#[derive(Clone, Debug)]
pub struct BootInfo {
    /// Hardware kind.
    pub board: BoardKind,
    /// Why the CPU reset (read from the board's reset-cause register).
    pub reset: ResetCause,
    /// Random per boot (see `SeatLink::new`).
    pub boot_id: u32,
    /// False when the provisioning block was missing or corrupt (the seat runs on a fallback
    /// identity and reports `UNPROVISIONED` once the host answers).
    pub provisioned: bool,
}

/// Operating parameters the host can change with `SetConfig`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Telemetry (and sampling) period.
    pub period_ms: u16,
    /// Local trip threshold, centi-°C.
    pub trip_centi: i16,
    /// Consecutive samples at or above the trip before tripping.
    pub trip_samples: u8,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            period_ms: DEFAULT_PERIOD_MS,
            trip_centi: DEFAULT_TRIP_CENTI,
            trip_samples: DEFAULT_TRIP_SAMPLES,
        }
    }
}

impl Config {
    /// The sensor thermostat's limits for this trip: T_HIGH at the trip, T_LOW at its release
    /// (trip − [`TRIP_HYSTERESIS_CENTI`]), the same count of conversions.
    pub fn alert_limits(&self) -> AlertLimits {
        AlertLimits {
            high_centi: self.trip_centi,
            low_centi: self.trip_centi.saturating_sub(TRIP_HYSTERESIS_CENTI),
            faults: self.trip_samples,
        }
    }

    /// True when every field is within the accepted ranges.
    pub fn is_valid(&self) -> bool {
        (MIN_PERIOD_MS..=MAX_PERIOD_MS).contains(&self.period_ms)
            && TRIP_RANGE_CENTI.contains(&self.trip_centi)
            && TRIP_SAMPLES_RANGE.contains(&self.trip_samples)
    }
}

/// The seat: link, sensor, configuration and safety state. See the module docs.
pub struct Seat<S> {
    decoder: FrameDecoder<MAX_WIRE>,
    core: Core,
    sensor: S,
}

/// Everything but the decoder and the sensor, so a decoded frame can borrow the decoder's buffer
/// while the core handles it.
struct Core {
    link: SeatLink,
    boot: BootInfo,
    config: Config,
    /// Milliseconds since boot, extended to 64 bits from the board's wrapping 32-bit clock.
    now: u64,
    last_clock: Option<u32>,
    next_sample: u64,
    last_sample: u64,
    last_hello: Option<u64>,
    host_seen: u64,
    flags: Flags,
    over_trip: u8,
    under_release: u8,
    /// When the trip or release count last advanced: a count advances once per conversion.
    last_counted: Option<u64>,
    /// Readings before this time are not conversions yet (the sensor restarted).
    warm_until: u64,
    last_temp: Option<i16>,
    /// The last reading the sensor gave, kept when it fails (a sensor lost while hot).
    last_good: Option<i16>,
    identify_until: Option<u64>,
    events: Deque<Event, EVENT_QUEUE>,
    tx_errors: u8,
    frames_sent: u32,
    /// The board's own readings (die temperature, supply), sent with the next telemetry.
    board: BoardReadings,
    /// Seconds of the last `Identify`, until the board takes it (see [`Seat::take_identify`]).
    identify_request: Option<u8>,
    /// The thermostat limits last given to the sensor.
    alert_sent: AlertLimits,
}

impl<S: Thermometer> Seat<S> {
    /// A seat at boot (time 0 = the first `poll`). `seat`/`key` come from the provisioning block.
    pub fn new(seat: u16, key: &SeatKey, boot: BootInfo, mut sensor: S) -> Self {
        sensor.set_trip(Config::default().alert_limits());
        let mut flags = Flags::default();
        flags.set(Flags::WATCHDOG_RESET, boot.reset == ResetCause::Watchdog);
        let mut events = Deque::new();
        if !boot.provisioned {
            let _ = events.push_back(Event {
                code: FaultCode::UNPROVISIONED,
                detail: 0,
            });
        }
        Self {
            decoder: FrameDecoder::new(),
            core: Core {
                link: SeatLink::new(seat, key, boot.boot_id),
                boot,
                config: Config::default(),
                now: 0,
                last_clock: None,
                next_sample: 0,
                last_sample: 0,
                last_hello: None,
                host_seen: 0,
                flags,
                over_trip: 0,
                under_release: 0,
                last_counted: None,
                warm_until: 0,
                last_temp: None,
                last_good: None,
                identify_until: None,
                events,
                tx_errors: 0,
                frames_sent: 0,
                board: BoardReadings {
                    die_centi: None,
                    supply_mv: None,
                },
                identify_request: None,
                alert_sent: Config::default().alert_limits(),
            },
            sensor,
        }
    }

    /// Starts with `config` instead of the boot defaults, when it is valid (an invalid one is
    /// ignored, as a `SetConfig` would be refused): for a board that keeps its last configuration
    /// across a reset, and for the host's simulator, which boots seats at their configured period.
    pub fn with_config(mut self, config: Config) -> Self {
        if config.is_valid() {
            self.core.config = config;
            self.sensor.set_trip(config.alert_limits());
        }
        self
    }

    /// One turn of the main loop at board time `now_ms` (a free-running, wrapping millisecond
    /// counter): reads what the host sent, samples when due, sends what is due. Never blocks on
    /// input; output is written with `write_all` (a few bytes per period).
    pub fn poll<P: Read + ReadReady + Write>(&mut self, now_ms: u32, port: &mut P) {
        self.core.tick(now_ms);
        // Downlink first, so a Failover that arrived takes effect before the next sample.
        let mut chunk = [0u8; 32];
        for _ in 0..8 {
            match port.read_ready() {
                Ok(true) => {}
                _ => break,
            }
            let n = match port.read(&mut chunk) {
                Ok(n) if n > 0 => n,
                _ => break,
            };
            let core = &mut self.core;
            self.decoder.feed(chunk.get(..n).unwrap_or(&[]), |f| {
                if let Ok(frame) = f {
                    core.on_frame(&frame, port);
                }
            });
        }
        self.core.maybe_hello(port);
        if self.core.now >= self.core.next_sample {
            let reading = self.sensor.read_centi();
            if self.sensor.take_restarted() {
                self.core.warm_until = self.core.now + u64::from(tmp105::CONVERSION_MAX_MS);
            }
            self.core.on_sample(reading, port);
        }
        if self.core.config.alert_limits() != self.core.alert_sent {
            self.core.alert_sent = self.core.config.alert_limits();
            self.sensor.set_trip(self.core.alert_sent);
        }
        self.core.flush_events(port);
        self.core.expire_identify();
    }

    /// Whether the main loop is doing its job: sampling on time and able to transmit. The board
    /// feeds its watchdog only while this is true, so a hung sensor bus or a wedged UART ends in
    /// a watchdog reset (reported in the next `Hello`) instead of a silent seat.
    pub fn healthy(&self) -> bool {
        let overdue = self.core.now.saturating_sub(self.core.last_sample)
            > 3 * u64::from(self.core.config.period_ms).max(HELLO_RETRY_MS);
        !overdue && self.core.tx_errors < MAX_TX_ERRORS
    }

    /// Safe mode (local trip or host failover): the board cuts the console's voting load / lights
    /// the fault LED while this is true.
    pub fn safe_mode(&self) -> bool {
        self.core.flags.safe_mode()
    }

    /// Whether the identify LED should blink.
    pub fn identify(&self) -> bool {
        self.core.flags.contains(Flags::IDENTIFY)
    }

    /// The status flags the next telemetry frame will carry.
    pub fn flags(&self) -> Flags {
        self.core.flags
    }

    /// The configuration in force.
    pub fn config(&self) -> Config {
        self.core.config
    }

    /// Whether the host answered a `Hello`.
    pub fn has_session(&self) -> bool {
        self.core.link.has_session()
    }

    /// The last good reading, centi-°C.
    pub fn last_temp(&self) -> Option<i16> {
        self.core.last_temp
    }

    /// Frames written so far (for the board's logs).
    pub fn frames_sent(&self) -> u32 {
        self.core.frames_sent
    }

    /// The board's own sensors, measured by the board (the Black Pill's ADC, see
    /// `crate::analog`): carried by every telemetry frame from now on — the die as channel 1
    /// behind the console's channel 0, the supply as `supply_mv` — until the next call.
    pub fn set_board_readings(&mut self, readings: BoardReadings) {
        self.core.board = readings;
    }

    /// The duration of the last verified `Identify` since the previous call: for a board that
    /// does more than blink (the QEMU rig's `fault-injection` feature reads magic durations).
    pub fn take_identify(&mut self) -> Option<u8> {
        self.core.identify_request.take()
    }

    /// Queues an event for the host, sent once a session is open: how a board reports what only
    /// it can see (e.g. a clock fall-back at start-up).
    pub fn queue_event(&mut self, code: FaultCode, detail: i16) {
        self.core.queue(code, detail);
    }

    /// Gives access to the sensor (tests, board diagnostics).
    pub fn sensor_mut(&mut self) -> &mut S {
        &mut self.sensor
    }
}

impl Core {
    fn tick(&mut self, now_ms: u32) {
        if let Some(last) = self.last_clock {
            self.now += u64::from(now_ms.wrapping_sub(last));
        }
        self.last_clock = Some(now_ms);
    }

    fn send<W: Write>(&mut self, msg: &Message, port: &mut W) -> bool {
        let mut buf = [0u8; MAX_WIRE];
        let Ok(wire) = self.link.encode(msg, &mut buf) else {
            return false;
        };
        match port.write_all(wire).and_then(|()| port.flush()) {
            Ok(()) => {
                self.tx_errors = 0;
                self.frames_sent = self.frames_sent.wrapping_add(1);
                true
            }
            Err(_) => {
                self.tx_errors = self.tx_errors.saturating_add(1);
                false
            }
        }
    }

    fn maybe_hello<W: Write>(&mut self, port: &mut W) {
        let host_lost = self.now.saturating_sub(self.host_seen) >= HOST_TIMEOUT_MS;
        let due = self
            .last_hello
            .is_none_or(|t| self.now.saturating_sub(t) >= HELLO_RETRY_MS);
        if !due || (self.link.has_session() && !host_lost) {
            return;
        }
        let hello = Message::Hello(Hello {
            protocol_minor: PROTOCOL_MINOR,
            firmware: FIRMWARE_VERSION,
            board: self.boot.board,
            boot_id: 0, // filled in by the link
            counter: 0, // filled in by the link
            sensors: 1 << Channel::Console as u8
                | u8::from(self.board.die_centi.is_some()) << Channel::Die as u8,
            reset: self.boot.reset,
            period_ms: self.config.period_ms,
        });
        info!("hello (session: {})", self.link.has_session());
        self.send(&hello, port);
        self.last_hello = Some(self.now);
    }

    fn on_sample<W: Write>(&mut self, reading: Result<i16, ()>, port: &mut W) {
        let period = u64::from(self.config.period_ms);
        // Keep the cadence (no drift), but never try to catch up a backlog of missed samples.
        self.next_sample = (self.next_sample + period).max(self.now + 1);
        self.last_sample = self.now;
        match reading {
            Ok(t) => {
                if self.flags.contains(Flags::SENSOR_FAULT) {
                    self.flags.set(Flags::SENSOR_FAULT, false);
                    self.queue(FaultCode::SENSOR_RECOVERED, 0);
                }
                if self.now < self.warm_until && t == 0 {
                    // The register still holds its reset value (0 °C), not a conversion. Any
                    // other value is a completed conversion: the window ends there.
                    self.last_temp = None;
                } else {
                    self.warm_until = 0;
                    self.last_temp = Some(t);
                    self.last_good = Some(t);
                    self.trip_logic(t);
                }
            }
            Err(()) => {
                if !self.flags.contains(Flags::SENSOR_FAULT) {
                    self.flags.set(Flags::SENSOR_FAULT, true);
                    self.queue(FaultCode::SENSOR_LOST, 0);
                }
                self.last_temp = None;
                // An unknown temperature never releases the trip. A sensor lost while hot counts
                // as still hot (a part dying in a fire trips the seat); else nothing counts.
                self.under_release = 0;
                match self.last_good {
                    Some(t) if t >= self.config.trip_centi => self.trip_logic(t),
                    _ => {
                        self.over_trip = 0;
                        self.last_counted = None;
                    }
                }
            }
        }
        if !self.link.has_session() {
            return;
        }
        // Channel 0 is the console's sensor, channel 1 the MCU's die (`hemiwatch_protocol::Channel`):
        // the die goes out only behind a console reading, never in its place.
        let mut temps = heapless::Vec::new();
        if let Some(t) = self.last_temp {
            let _ = temps.push(t);
            if let Some(die) = self.board.die_centi {
                let _ = temps.push(die);
            }
        }
        let telemetry = Telemetry {
            uptime_min: (self.now / 60_000) as u32,
            flags: self.flags,
            temps,
            supply_mv: self.board.supply_mv.unwrap_or(0),
        };
        self.send(&Message::Telemetry(telemetry), port);
    }

    /// The local trip with its hysteresis: tripped after `trip_samples` consecutive samples at or
    /// above the threshold, released after as many below threshold − [`TRIP_HYSTERESIS_CENTI`].
    ///
    /// A count advances at most once per [`tmp105::CONVERSION_MAX_MS`]: sampled faster, the
    /// sensor returns the same conversion again, which is no new evidence.
    fn trip_logic(&mut self, t: i16) {
        let cfg = self.config;
        if !self.flags.contains(Flags::LOCAL_TRIP) {
            self.over_trip = self.per_conversion(self.over_trip, t >= cfg.trip_centi);
            if self.over_trip >= cfg.trip_samples {
                warn!("local trip at {} centi-°C: safe mode", t);
                self.set_local_trip(true, t);
            }
        } else {
            let release_below = cfg.trip_centi.saturating_sub(TRIP_HYSTERESIS_CENTI);
            self.under_release = self.per_conversion(self.under_release, t < release_below);
            if self.under_release >= cfg.trip_samples {
                info!("local trip cleared at {} centi-°C", t);
                self.set_local_trip(false, t);
            }
        }
    }

    /// Consecutive conversions meeting a condition: one more while it holds, if a new
    /// conversion can have completed since the last one counted; none once it does not.
    fn per_conversion(&mut self, count: u8, holds: bool) -> u8 {
        if !holds {
            self.last_counted = None;
            return 0;
        }
        let fresh = self
            .last_counted
            .is_none_or(|t| self.now.saturating_sub(t) >= u64::from(tmp105::CONVERSION_MAX_MS));
        if !fresh {
            return count;
        }
        self.last_counted = Some(self.now);
        consecutive(count, true)
    }

    /// Enters or leaves the local trip at temperature `t`: both counts start over and the host
    /// is told with an event.
    fn set_local_trip(&mut self, tripped: bool, t: i16) {
        self.flags.set(Flags::LOCAL_TRIP, tripped);
        self.over_trip = 0;
        self.under_release = 0;
        self.last_counted = None;
        let code = if tripped {
            FaultCode::LOCAL_TRIP
        } else {
            FaultCode::LOCAL_TRIP_CLEARED
        };
        self.queue(code, t);
    }

    fn queue(&mut self, code: FaultCode, detail: i16) {
        if self.events.is_full() {
            let _ = self.events.pop_front();
        }
        let _ = self.events.push_back(Event { code, detail });
    }

    fn flush_events<W: Write>(&mut self, port: &mut W) {
        while self.link.has_session() {
            let Some(ev) = self.events.pop_front() else {
                return;
            };
            if !self.send(&Message::Event(ev.clone()), port) {
                // Put it back for the next turn rather than lose it.
                let _ = self.events.push_front(ev);
                return;
            }
        }
    }

    fn expire_identify(&mut self) {
        if self.identify_until.is_some_and(|t| self.now >= t) {
            self.identify_until = None;
            self.flags.set(Flags::IDENTIFY, false);
        }
    }

    fn on_frame<W: Write>(&mut self, frame: &RawFrame<'_>, port: &mut W) {
        let (counter, msg) = match self.link.accept(frame) {
            Ok(v) => v,
            Err(e) => {
                debug!("downlink refused: {}", e);
                return;
            }
        };
        self.host_seen = self.now;
        let status = match &msg {
            Message::Session(_) => {
                info!("session open");
                return;
            }
            Message::Ping(_) => AckStatus::Ok,
            Message::SetConfig(c) => {
                let new = Config {
                    period_ms: c.period_ms,
                    trip_centi: c.trip_centi,
                    trip_samples: c.trip_samples,
                };
                if new.is_valid() {
                    if new.period_ms != self.config.period_ms {
                        // Start the new cadence now rather than after the old (maybe long) period.
                        self.next_sample = self.now;
                    }
                    self.config = new;
                    self.over_trip = 0;
                    self.under_release = 0;
                    self.last_counted = None;
                    info!("config {}", new);
                    AckStatus::Ok
                } else {
                    self.queue(
                        FaultCode::CONFIG_REJECTED,
                        i16::try_from(c.period_ms).unwrap_or(i16::MAX),
                    );
                    AckStatus::Rejected
                }
            }
            Message::Failover(f) => {
                self.flags.set(Flags::FAILOVER_ACTIVE, f.active);
                warn!("failover {}", f.active);
                AckStatus::Ok
            }
            Message::Identify(i) => {
                let on = i.seconds > 0;
                self.flags.set(Flags::IDENTIFY, on);
                self.identify_until = on.then(|| self.now + u64::from(i.seconds) * 1_000);
                self.identify_request = Some(i.seconds);
                AckStatus::Ok
            }
            // Uplink kinds never verify here (the link rejects the wrong direction).
            _ => return,
        };
        let ack = Message::Ack(Ack {
            counter,
            of: msg.kind() as u8,
            status,
        });
        self.send(&ack, port);
    }
}

/// Consecutive samples meeting a condition: one more while it holds, none once it does not.
fn consecutive(count: u8, holds: bool) -> u8 {
    if holds {
        count.saturating_add(1)
    } else {
        0
    }
}

#[cfg(test)]
#[path = "seat_tests.rs"]
mod tests;
