//! The seat state machine: everything a seat does, independent of the board it runs on.
//!
//! The board owns the peripherals and the clock and calls [`Seat::poll`] from its main loop with
//! the current time in microseconds (a sub-millisecond clock: the bus waits are ~0.2 ms), its
//! serial port (embedded-io [`Read`] + [`ReadReady`] + [`Write`]) and nothing else; the seat owns
//! the sensor. Between passes the board sleeps until [`Seat::next_wakeup`] or a received byte.
//! `poll` never blocks on input, never panics and never allocates:
//!
//! - **Bus access** ([`hemiwatch_protocol::bus`]): the seat never transmits on its own. Every
//!   byte and frame it receives feeds a [`SeatAccess`]; when a beacon of its round has been
//!   heard and the bus has been silent for its wait, it takes its **turn**: exactly one frame,
//!   chosen by [`TurnContent::choose`] — `Hello` while it has no session, else telemetry after a
//!   turn that carried none, else a pending `Ack`,
//!   else a queued `Event`, else `Telemetry` with the latest sample — followed, in the same turn,
//!   by the answer to the latest `Ping` if one is owed. So the host's round period
//!   *is* the telemetry period. Bytes read in one `poll` are heard at that `poll`'s time: the
//!   board polls as soon as its UART receives (the RX interrupt wakes it), and the delay between
//!   a byte's stop bit and that `poll` belongs to the line's jitter budget.
//! - **Link**: says `Hello` in every turn until the host answers with a `Session` (the turn is
//!   its own anyway, and a `Hello` each round period keeps the host's silence detector quiet
//!   while a power-on storm's `Session`s queue up, two per round). The session belongs to the beaconing host's **epoch** (carried by every
//!   beacon): a beacon of another epoch (the daemon restarted, a standby took over) or no beacon
//!   for [`HOST_TIMEOUT_MS`] ends it, and the seat says `Hello` again. No per-seat pings are needed
//!   to keep a session: beacons prove the host, telemetry proves the seat.
//! - **Sampling**: reads the sensor every `period_ms` on the seat's own clock whether or not a host
//!   listens — the local trip must protect the seat when the link is gone. Telemetry carries the
//!   latest sample at the seat's turn.
//! - **Commands**: `Ping` → `Ack`; `SetConfig` validated, applied and `Ack`ed, or refused with
//!   `Ack{Rejected}` and a `CONFIG_REJECTED` event; `Failover` → safe mode at once +
//!   `FAILOVER_ACTIVE` + `Ack`; `Identify` → `IDENTIFY` flag for the requested seconds + `Ack`.
//!   Acts at once; the `Ack` goes in the next turn (one per turn, in order). A `Ping`'s answer
//!   rides behind the next telemetry instead: the host pings only a seat whose telemetry is
//!   overdue, and an answer that took a turn of its own cost that seat one more telemetry —
//!   one frame lost on the line then looked like three periods without telemetry.
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
use hemiwatch_protocol::bus::{Heard, SeatAccess, SeatAction, Timing, TurnContent};
use hemiwatch_protocol::{
    Ack, AckStatus, BoardKind, Channel, Event, FaultCode, Flags, FrameDecoder, Hello, Message, MessageKind,
    RawFrame, ResetCause, SeatKey, SeatLink, Telemetry, MAX_WIRE, PROTOCOL_MINOR,
};

use crate::tmp105::{self, AlertLimits};
use crate::FIRMWARE_VERSION;

/// Shortest span the watchdog's "sampling overdue" bound allows (three of these or three
/// sampling periods, whichever is longer); it was the `Hello` retry of the free-running firmware.
pub const HELLO_RETRY_MS: u64 = 1_000;
/// No beacon for this long means the host is lost: the session ends and the seat says `Hello` to
/// whichever host beacons next.
pub const HOST_TIMEOUT_MS: u64 = 5_000;
/// Line rate of a board that is not told otherwise (the daemon's default too).
pub const DEFAULT_BAUD: u32 = 115_200;
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
/// Events waiting for a turn (or for a session: boot-time faults before the host answers) are
/// kept up to this many; the oldest is dropped beyond.
const EVENT_QUEUE: usize = 4;
/// Acks waiting for a turn: the host sends at most `COMMANDS_PER_ROUND` (2) commands per round,
/// so a seat owes at most a few; the oldest is dropped beyond (the host retries what matters).
/// `Ping`s are not queued here: their answer rides behind telemetry (`ping_answer`).
const ACK_QUEUE: usize = 4;

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
            warn!("tmp105: {=str}", e.describe());
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
    /// Sampling period of the local trip. The telemetry period is the host's round period (one
    /// turn per round); the host no longer sets this through `SetConfig`, which it keeps for the
    /// trip thresholds.
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
    /// Board time of the current `poll`, µs, and the same in ms (what the sampling logic counts).
    now_us: u64,
    now: u64,
    /// When the board's clock started: the first `poll`'s time (uptime is counted from it).
    start_us: Option<u64>,
    next_sample: u64,
    last_sample: u64,
    /// When the last beacon was heard (ms) and the epoch it carried.
    last_beacon: Option<(u64, u8)>,
    /// The epoch of the host that opened the current session.
    session_epoch: Option<u8>,
    access: SeatAccess,
    acks: Deque<Ack, ACK_QUEUE>,
    /// The answer to the latest `Ping`, sent right behind the next telemetry, in its turn (the
    /// bus plan budgets one `Ack` per command of a round for it: `FrameSizes::ack`). One answer
    /// stands for every ping before it: a ping only asks "alive?".
    ping_answer: Option<Ack>,
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
    /// The last turn carried an Ack or an Event: the next one carries telemetry
    /// ([`TurnContent::choose`]), so only telemetry proves the seat alive and nothing starves it.
    telemetry_owed: bool,
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
                now_us: 0,
                now: 0,
                start_us: None,
                next_sample: 0,
                last_sample: 0,
                last_beacon: None,
                session_epoch: None,
                access: SeatAccess::new(seat, Timing::new(DEFAULT_BAUD)),
                acks: Deque::new(),
                ping_answer: None,
                flags,
                over_trip: 0,
                under_release: 0,
                last_counted: None,
                warm_until: 0,
                last_temp: None,
                last_good: None,
                identify_until: None,
                telemetry_owed: false,
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

    /// The seat on a line at `baud` (default [`DEFAULT_BAUD`]): the character time its bus waits
    /// are derived from (the jitter budget comes with every beacon).
    pub fn with_baud(mut self, baud: u32) -> Self {
        if baud > 0 {
            self.core.access = SeatAccess::new(self.core.link.seat(), Timing::new(baud));
        }
        self
    }

    /// One pass of the main loop at board time `now_us` (a monotonic microsecond clock): reads
    /// what the bus carried (all of it heard at `now_us`), samples when due, and takes its turn
    /// when the bus access says so. Never blocks on input; a turn's one frame is written with
    /// `write_all`.
    pub fn poll<P: Read + ReadReady + Write>(&mut self, now_us: u64, port: &mut P) {
        self.core.tick(now_us);
        // The bus first, so a Failover that arrived takes effect before the next sample.
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
            core.access.on_byte(core.now_ns());
            self.decoder.feed(chunk.get(..n).unwrap_or(&[]), |f| match f {
                Ok(frame) => core.on_bus_frame(&frame),
                Err(_) => core.access.on_garbage(core.now_ns()),
            });
        }
        self.core.check_host();
        if self.core.now >= self.core.next_sample {
            let reading = self.sensor.read_centi();
            if self.sensor.take_restarted() {
                self.core.warm_until = self.core.now + u64::from(tmp105::CONVERSION_MAX_MS);
            }
            self.core.on_sample(reading);
        }
        if self.core.config.alert_limits() != self.core.alert_sent {
            self.core.alert_sent = self.core.config.alert_limits();
            self.sensor.set_trip(self.core.alert_sent);
        }
        self.core.expire_identify();
        if self.core.access.poll(self.core.now_ns()) == SeatAction::Transmit {
            self.core.take_turn(port);
        }
    }

    /// Whether a beacon of this seat's round was heard and its turn has not come yet: the only
    /// time other seats' frames matter to it (a simulator may skip delivering them otherwise).
    pub fn awaiting_turn(&self) -> bool {
        self.core.access.poll(self.core.now_ns()) != SeatAction::Wait(None)
    }

    /// When the board must run [`Self::poll`] again at the latest (µs, board time), if nothing
    /// is received before: the end of this seat's wait for its turn, the next sample, the end of
    /// an identify. A board arms a timer for it instead of waking every millisecond.
    pub fn next_wakeup(&self) -> u64 {
        let c = &self.core;
        let mut at = c.next_sample.saturating_mul(1_000);
        if let SeatAction::Wait(Some(ns)) = c.access.poll(c.now_ns()) {
            at = at.min(ns.div_ceil(1_000));
        } else if c.access.poll(c.now_ns()) == SeatAction::Transmit {
            at = c.now_us;
        }
        if let Some(t) = c.identify_until {
            at = at.min(t.saturating_mul(1_000));
        }
        at.saturating_add(c.start_us.unwrap_or(0))
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
    fn tick(&mut self, now_us: u64) {
        let start = *self.start_us.get_or_insert(now_us);
        // Time since the first poll; a clock that went backwards is held (never re-lived).
        self.now_us = self.now_us.max(now_us.saturating_sub(start));
        self.now = self.now_us / 1_000;
    }

    /// Now on the bus-access clock (ns since the first poll).
    fn now_ns(&self) -> u64 {
        self.now_us.saturating_mul(1_000)
    }

    /// A valid frame on the bus: every one moves the bus access on; beacons tell the host's
    /// epoch; commands for this seat are verified and obeyed. Other seats' frames and commands
    /// for other seats are heard and otherwise ignored.
    fn on_bus_frame(&mut self, frame: &RawFrame<'_>) {
        let heard = Heard::of(frame);
        self.access.on_frame(self.now_ns(), heard);
        match heard {
            Heard::Beacon(b) => {
                self.last_beacon = Some((self.now, b.epoch));
                if self.link.has_session() && self.session_epoch != Some(b.epoch) {
                    info!(
                        "host epoch {} (session under {}): hello again",
                        b.epoch, self.session_epoch
                    );
                    self.end_session();
                }
            }
            Heard::Downlink
                if frame.header.seat == self.link.seat() && frame.header.kind != MessageKind::Beacon =>
            {
                self.on_frame(frame);
            }
            Heard::Downlink | Heard::Uplink(_) => {}
        }
    }

    /// No beacon for [`HOST_TIMEOUT_MS`]: the host is gone, so is the session.
    fn check_host(&mut self) {
        let last = self.last_beacon.map_or(0, |(t, _)| t);
        if self.link.has_session() && self.now.saturating_sub(last) >= HOST_TIMEOUT_MS {
            warn!("no beacon for {} ms: host lost", HOST_TIMEOUT_MS);
            self.end_session();
        }
    }

    fn end_session(&mut self) {
        self.link.end_session();
        self.session_epoch = None;
        self.acks.clear();
        self.ping_answer = None;
    }

    /// This seat's turn: one frame, the most urgent ([`TurnContent::choose`]), or none.
    fn take_turn<W: Write>(&mut self, port: &mut W) {
        self.access.transmitted();
        let content = TurnContent::choose(
            self.link.has_session(),
            !self.acks.is_empty(),
            !self.events.is_empty(),
            self.telemetry_owed,
        );
        self.telemetry_owed = content != TurnContent::Telemetry && content != TurnContent::Hello;
        match content {
            TurnContent::Hello => self.hello(port),
            TurnContent::Ack => {
                if let Some(ack) = self.acks.pop_front() {
                    let msg = Message::Ack(ack);
                    if !self.send(&msg, port) {
                        if let Message::Ack(ack) = msg {
                            let _ = self.acks.push_front(ack);
                        }
                    }
                }
            }
            TurnContent::Event => {
                if let Some(ev) = self.events.pop_front() {
                    let msg = Message::Event(ev);
                    if !self.send(&msg, port) {
                        // Put it back for the next turn rather than lose it.
                        if let Message::Event(ev) = msg {
                            let _ = self.events.push_front(ev);
                        }
                    }
                }
            }
            TurnContent::Telemetry => {
                if self.send_telemetry(port) {
                    if let Some(ack) = self.ping_answer.take() {
                        if !self.send(&Message::Ack(ack.clone()), port) {
                            self.ping_answer = Some(ack);
                        }
                    }
                }
            }
        }
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

    fn hello<W: Write>(&mut self, port: &mut W) {
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
    }

    fn on_sample(&mut self, reading: Result<i16, ()>) {
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
    }

    /// The latest sample as `Telemetry` (nothing before the first sample).
    fn send_telemetry<W: Write>(&mut self, port: &mut W) -> bool {
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
        self.send(&Message::Telemetry(telemetry), port)
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

    fn expire_identify(&mut self) {
        if self.identify_until.is_some_and(|t| self.now >= t) {
            self.identify_until = None;
            self.flags.set(Flags::IDENTIFY, false);
        }
    }

    fn on_frame(&mut self, frame: &RawFrame<'_>) {
        let (counter, msg) = match self.link.accept(frame) {
            Ok(v) => v,
            Err(e) => {
                debug!("downlink refused: {}", e);
                return;
            }
        };
        let status = match &msg {
            Message::Session(_) => {
                // The host that answered is the one beaconing now.
                self.session_epoch = self.last_beacon.map(|(_, e)| e);
                info!("session open");
                return;
            }
            Message::Ping(_) => {
                self.ping_answer = Some(Ack {
                    counter,
                    of: MessageKind::Ping as u8,
                    status: AckStatus::Ok,
                });
                return;
            }
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
        if self.acks.is_full() {
            let _ = self.acks.pop_front();
        }
        let _ = self.acks.push_back(Ack {
            counter,
            of: msg.kind() as u8,
            status,
        });
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
