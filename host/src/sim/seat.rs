//! One simulated seat: the real firmware core ([`hemiwatch_firmware::Seat`]) with its real TMP105
//! driver, over an in-memory I2C part ([`SimTmp105`]) and an in-memory UART, in a console whose
//! temperature follows the simulator's one thermal model ([`Model`]) and a scenario of incidents.
//!
//! Nothing of the seat's protocol behaviour is re-implemented here — `Hello` retries, the host
//! timeout, sessions, commands, the local trip, sensor faults all come from the firmware, so a
//! simulated seat cannot drift from a real one. What is simulated is what a board provides:
//! power (boot, reboot with a new boot id), a clock, the sensor's physics and the wire (frame
//! loss). Time is a parameter, so a capture of hours is produced in milliseconds and a live run
//! follows the wall clock.

use std::collections::VecDeque;

use hemiwatch_firmware::seat::{Config, MAX_PERIOD_MS, MIN_PERIOD_MS};
use hemiwatch_firmware::tmp105::{Tmp105, DEFAULT_ADDRESS};
use hemiwatch_firmware::{BootInfo, Seat};
use hemiwatch_protocol::{BoardKind, FrameDecoder, MessageKind, ResetCause, SeatId, SeatKey, MAX_WIRE};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::thermal::{quantise, Model};
use super::tmp105::SimTmp105;

/// Sensor noise of a healthy console's TMP105, °C (one standard deviation).
const SIGMA_C: f64 = 0.08;
/// Time constant with which a console relaxes to its idle temperature, minutes: how it cools once
/// safe mode (the host's failover or the seat's local trip) has cut the faulty load.
const IDLE_TAU_MIN: f64 = 2.0;
/// Time constant of a runaway, minutes: it heads for a target far above critical (the load's
/// dissipation once its regulation failed), slowly enough that its rate stays within ~15 % of the
/// rate at onset over the minutes that matter, as a runaway with a fixed rate would.
const RUNAWAY_TAU_MIN: f64 = 60.0;
/// Shortest `Warming` time constant accepted, minutes (a zero would be a step, not a warming).
const MIN_WARMING_TAU_MIN: f64 = 0.1;
/// Chance that one reading of a `NoisySensor` is a glitch of a loose connector.
const GLITCH_CHANCE: f64 = 0.02;
/// Size of that glitch, °C.
const GLITCH_C: f64 = 25.0;

/// What happens to a simulated seat over time.
#[derive(Clone, Debug, PartialEq)]
pub enum Scenario {
    /// A healthy console: settles at its base temperature with sensor noise.
    Steady,
    /// A component heats up from `start_ms` at `rate_c_per_min` (at onset) until safe mode cuts
    /// its load (the host's failover, or the seat's own local trip).
    Runaway {
        /// When the runaway starts (simulation ms).
        start_ms: u64,
        /// Heating rate at onset, °C per minute.
        rate_c_per_min: f64,
    },
    /// The seat loses power at `at_ms` for `for_ms`, then boots again (new boot identity,
    /// reported as a watchdog reset).
    SilentThenReboot {
        /// When it goes silent.
        at_ms: u64,
        /// How long it stays silent.
        for_ms: u64,
    },
    /// A poorly seated sensor: much more noise, plus an occasional single-sample spike.
    NoisySensor {
        /// Standard deviation of the noise, °C.
        sigma_c: f64,
    },
    /// A console warming up with the session: relaxes from its idle temperature toward
    /// `rise_c` above it with time constant `tau_min` (a healthy day; never an incident).
    Warming {
        /// Rise at equilibrium, °C.
        rise_c: f64,
        /// Time constant, minutes.
        tau_min: f64,
    },
    /// The sensor dies at `at_ms`: from then on it does not acknowledge its address, and the
    /// firmware reports `SENSOR_FAULT` with no temperature.
    SensorFails {
        /// When it dies.
        at_ms: u64,
    },
}

/// The seat's UART as the firmware sees it: bytes the host sent wait in `rx`, bytes the seat
/// wrote collect in `tx` until the simulator puts them on the line.
#[derive(Default)]
struct Uart {
    rx: VecDeque<u8>,
    tx: Vec<u8>,
}

impl embedded_io::ErrorType for Uart {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Uart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.rx.len());
        for (b, v) in buf.iter_mut().zip(self.rx.drain(..n)) {
            *b = v;
        }
        Ok(n)
    }
}

impl embedded_io::ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(!self.rx.is_empty())
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.tx.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The firmware as a board runs it: the seat core owning the driver of the simulated sensor.
type Firmware = Seat<Tmp105<SimTmp105>>;

/// One simulated seat.
pub struct SimSeat {
    id: SeatId,
    key: SeatKey,
    scenario: Scenario,
    rng: SmallRng,
    config: Config,
    firmware: Firmware,
    uart: Uart,
    /// When the board gets power: seats of a line power up spread over one period, so a line is
    /// not hit by all its seats' frames in the same millisecond.
    power_on_ms: u64,
    rebooted: bool,
    model: Model,
    base_c: f64,
    physics_ms: u64,
    runaway_target_c: Option<f64>,
    loss: f64,
}

impl SimSeat {
    /// A seat that boots at `now_ms` (plus a phase within its period) with `period_ms` as its
    /// telemetry period (clamped to what the firmware accepts). `seed` makes its temperature,
    /// noise and boot ids reproducible.
    pub fn new(id: SeatId, key: SeatKey, scenario: Scenario, period_ms: u64, seed: u64, now_ms: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed ^ (u64::from(id) << 32));
        let base_c = 34.0 + rng.random::<f64>() * 8.0;
        let sigma_c = match scenario {
            Scenario::NoisySensor { sigma_c } => sigma_c,
            _ => SIGMA_C,
        };
        let period_ms = period_ms.clamp(u64::from(MIN_PERIOD_MS), u64::from(MAX_PERIOD_MS));
        let config = Config {
            period_ms: period_ms as u16,
            ..Config::default()
        };
        let firmware = boot(id, &key, config, rng.random(), ResetCause::PowerOn);
        Self {
            id,
            key,
            scenario,
            rng,
            config,
            firmware,
            uart: Uart::default(),
            power_on_ms: now_ms + (u64::from(id) * 37) % period_ms,
            rebooted: false,
            model: Model::new(base_c, sigma_c),
            base_c,
            physics_ms: now_ms,
            runaway_target_c: None,
            loss: 0.0,
        }
    }

    /// Loses this fraction of its telemetry frames on the way (a noisy RS-485 segment): the
    /// frames are built and counted by the seat, so the host sees the gaps in the counter.
    pub fn with_loss(mut self, fraction: f64) -> Self {
        self.loss = fraction.clamp(0.0, 1.0);
        self
    }

    /// The seat's id.
    pub fn id(&self) -> SeatId {
        self.id
    }

    /// Current true temperature, °C (what the sensor would read without noise).
    pub fn true_temp_c(&self) -> f64 {
        self.model.temp_c()
    }

    /// The firmware running this seat (its flags, configuration, session), for tests.
    pub fn firmware(&self) -> &Seat<Tmp105<SimTmp105>> {
        &self.firmware
    }

    /// Whether the board has no power at `now_ms`: not yet switched on, or in its silent spell.
    fn powered_off(&self, now_ms: u64) -> bool {
        let silent = matches!(self.scenario, Scenario::SilentThenReboot { at_ms, for_ms }
            if !self.rebooted && now_ms >= at_ms && now_ms < at_ms + for_ms);
        now_ms < self.power_on_ms || silent
    }

    /// Whether the firmware waits for its turn in a round (see `Seat::awaiting_turn`).
    pub fn awaiting_turn(&self) -> bool {
        self.firmware.awaiting_turn()
    }

    /// When the seat must be polled again at the latest (µs): the firmware's own deadline (its
    /// turn, its next sample), or the board's power coming back.
    pub fn next_wakeup(&self, now_us: u64) -> u64 {
        let now_ms = now_us / 1_000;
        if now_ms < self.power_on_ms {
            return self.power_on_ms * 1_000;
        }
        if let Scenario::SilentThenReboot { at_ms, for_ms } = self.scenario {
            if !self.rebooted && now_ms >= at_ms {
                return (at_ms + for_ms) * 1_000;
            }
            if !self.rebooted {
                return self.firmware.next_wakeup().min(at_ms * 1_000);
            }
        }
        self.firmware.next_wakeup()
    }

    /// Advances physics to `now_us` (µs) and appends the wire frames the firmware sent by then
    /// to `out`.
    pub fn poll(&mut self, now_us: u64, out: &mut Vec<u8>) {
        let now_ms = now_us / 1_000;
        self.step_physics(now_ms);
        if self.powered_off(now_ms) {
            return;
        }
        if let Scenario::SilentThenReboot { at_ms, for_ms } = self.scenario {
            if !self.rebooted && now_ms >= at_ms + for_ms {
                self.rebooted = true;
                let boot_id = self.rng.random();
                // A board that lost power and came back: a new firmware boot, nothing kept.
                self.firmware = boot(self.id, &self.key, self.config, boot_id, ResetCause::Watchdog);
                self.uart = Uart::default();
            }
        }
        self.run_firmware(now_us, out);
    }

    /// Hands the seat bytes heard on its line at `now_us` (the host's, other seats': every node
    /// hears every byte; the firmware keeps what is for it); the firmware handles them at once,
    /// and what it sends (if its turn came) is appended to `out`. A seat without power hears
    /// nothing.
    pub fn on_wire(&mut self, wire: &[u8], now_us: u64, out: &mut Vec<u8>) {
        let now_ms = now_us / 1_000;
        self.step_physics(now_ms);
        if self.powered_off(now_ms) {
            return;
        }
        self.uart.rx.extend(wire.iter().copied());
        self.run_firmware(now_us, out);
    }

    /// One turn of the firmware's main loop, with a fresh conversion in the sensor if the last
    /// one was read (so every sample the firmware takes sees its own noise).
    fn run_firmware(&mut self, now_us: u64, out: &mut Vec<u8>) {
        let now_ms = now_us / 1_000;
        let dead = matches!(self.scenario, Scenario::SensorFails { at_ms } if now_ms >= at_ms);
        let sensor = self.firmware.sensor_mut().bus_mut();
        sensor.set_dead(dead);
        if sensor.conversion_read() {
            let mut reading = self.model.sense(&mut self.rng);
            if matches!(self.scenario, Scenario::NoisySensor { .. })
                && self.rng.random::<f64>() < GLITCH_CHANCE
            {
                reading += GLITCH_C;
            }
            sensor.convert(quantise(reading));
        }
        // The board's microsecond clock: the simulation's.
        self.firmware.poll(now_us, &mut self.uart);
        if self.uart.tx.is_empty() {
            return;
        }
        if self.loss == 0.0 {
            out.append(&mut self.uart.tx);
            return;
        }
        let tx = std::mem::take(&mut self.uart.tx);
        for frame in tx.split_inclusive(|b| *b == 0) {
            if !(is_telemetry(frame) && self.rng.random::<f64>() < self.loss) {
                out.extend_from_slice(frame);
            }
        }
    }

    fn step_physics(&mut self, now_ms: u64) {
        let dt_ms = now_ms.saturating_sub(self.physics_ms);
        if dt_ms == 0 {
            return;
        }
        self.physics_ms = now_ms;
        // Safe mode is the board cutting the console's load; a board without power dissipates
        // nothing either.
        let load_cut = self.firmware.safe_mode() || self.powered_off(now_ms);
        let idle = (self.base_c, IDLE_TAU_MIN);
        let (target_c, tau_min) = match self.scenario {
            Scenario::Runaway {
                start_ms,
                rate_c_per_min,
            } if now_ms >= start_ms && !load_cut => {
                let from = self.model.temp_c();
                let target = *self
                    .runaway_target_c
                    .get_or_insert(from + rate_c_per_min * RUNAWAY_TAU_MIN);
                (target, RUNAWAY_TAU_MIN)
            }
            Scenario::Warming { rise_c, tau_min } if !load_cut => {
                (self.base_c + rise_c, tau_min.max(MIN_WARMING_TAU_MIN))
            }
            _ => idle,
        };
        self.model.step(target_c, tau_min, dt_ms);
    }
}

/// A board that just booted: the firmware core with a fresh driver and sensor.
fn boot(id: SeatId, key: &SeatKey, config: Config, boot_id: u32, reset: ResetCause) -> Firmware {
    let boot = BootInfo {
        board: BoardKind::Simulated,
        reset,
        boot_id,
        provisioned: true,
    };
    Seat::new(id, key, boot, Tmp105::new(SimTmp105::new(), DEFAULT_ADDRESS)).with_config(config)
}

/// Whether one wire frame is a `Telemetry` frame (what `with_loss` drops).
fn is_telemetry(frame: &[u8]) -> bool {
    let mut telemetry = false;
    FrameDecoder::<MAX_WIRE>::new().feed(frame, |f| {
        telemetry |= f.is_ok_and(|f| f.header.kind == MessageKind::Telemetry);
    });
    telemetry
}

#[cfg(test)]
mod tests {
    use hemiwatch_protocol::bus::{FrameSizes, Plan};
    use hemiwatch_protocol::{Failover, Flags, HostLink, Message};

    use super::*;
    use crate::source::{LineBus, Queued};

    const SEAT: SeatId = 7;

    /// A host for one seat: beacons the line ([`LineBus`]), verifies every frame the seat
    /// sends, answers its `Hello`s, and queues the commands the test gives it.
    struct Host {
        link: HostLink,
        decoder: FrameDecoder<MAX_WIRE>,
        bus: LineBus,
        beaconing: bool,
        /// Every verified message, with the time it arrived (ms).
        log: Vec<(u64, Message)>,
        answer_hellos: bool,
    }

    impl Host {
        fn new(period_ms: u64) -> Self {
            let plan = Plan::new(SEAT, 1, period_ms * 1_000_000, 115_200, FrameSizes::MEASURED).unwrap();
            Self {
                link: HostLink::new(SEAT, Some(&hemiwatch_protocol::demo_key(SEAT))),
                decoder: FrameDecoder::new(),
                bus: LineBus::new(plan, 0, 1),
                beaconing: true,
                log: Vec::new(),
                answer_hellos: true,
            }
        }

        /// Reads what the seat sent at `now_us`.
        fn hear(&mut self, wire: &[u8], now_us: u64) {
            self.bus.on_bytes(now_us * 1_000, wire);
            let mut heard = Vec::new();
            let link = &mut self.link;
            self.decoder.feed(wire, |f| {
                let f = f.expect("a simulated seat sends well-formed frames");
                let v = link.accept(&f).expect("every frame of a simulated seat verifies");
                heard.push(v.message);
            });
            for m in heard {
                if let (Message::Hello(h), true) = (&m, self.answer_hellos) {
                    let mut buf = [0u8; MAX_WIRE];
                    let nonce = 0x0123_4567_89AB_CDEF ^ now_us;
                    let wire = self.link.respond_to_hello(h, nonce, &mut buf).expect("session");
                    self.bus.enqueue(Queued::from_wire(wire.to_vec()).unwrap());
                }
                self.log.push((now_us / 1_000, m));
            }
        }

        fn send(&mut self, msg: &Message) -> Vec<u8> {
            let mut buf = [0u8; MAX_WIRE];
            self.link.encode(msg, &mut buf).expect("encodes").1.to_vec()
        }

        fn telemetry(&self) -> Vec<(u64, &hemiwatch_protocol::Telemetry)> {
            self.log
                .iter()
                .filter_map(|(t, m)| match m {
                    Message::Telemetry(x) => Some((*t, x)),
                    _ => None,
                })
                .collect()
        }

        fn hellos(&self) -> Vec<(u64, &hemiwatch_protocol::Hello)> {
            self.log
                .iter()
                .filter_map(|(t, m)| match m {
                    Message::Hello(x) => Some((*t, x)),
                    _ => None,
                })
                .collect()
        }
    }

    fn seat(scenario: Scenario, period_ms: u64) -> SimSeat {
        SimSeat::new(
            SEAT,
            hemiwatch_protocol::demo_key(SEAT),
            scenario,
            period_ms,
            3,
            0,
        )
    }

    /// Runs seat and host from `from` to `to` ms on one instantaneous wire: the host beacons, the
    /// seat answers in its turns.
    fn run(seat: &mut SimSeat, host: &mut Host, from: u64, to: u64) {
        let (mut now, end) = (from * 1_000, to * 1_000);
        let mut up = Vec::new();
        while now < end {
            let mut host_next = u64::MAX;
            if host.beaconing {
                match host.bus.poll(now * 1_000) {
                    Ok(down) => seat.on_wire(&down, now, &mut up),
                    Err(at) => host_next = at.div_ceil(1_000),
                }
            }
            seat.poll(now, &mut up);
            host.hear(&std::mem::take(&mut up), now);
            let next = seat.next_wakeup(now).min(host_next).min(now + 10_000).min(end);
            now = next.max(now + 1);
        }
    }

    #[test]
    fn a_simulated_seat_is_the_firmware_hello_then_telemetry_at_its_period() {
        let (mut s, mut host) = (seat(Scenario::Steady, 500), Host::new(500));
        run(&mut s, &mut host, 0, 10_000);
        let hellos = host.hellos();
        assert_eq!(hellos.len(), 1, "{hellos:?}");
        let hello = hellos[0].1;
        assert_eq!(hello.firmware, hemiwatch_firmware::FIRMWARE_VERSION);
        assert_eq!(hello.board, BoardKind::Simulated);
        assert_eq!(hello.period_ms, 500);
        let t = host.telemetry();
        assert!(
            (18..=20).contains(&t.len()),
            "{} telemetry frames in 10 s",
            t.len()
        );
        for w in t.windows(2) {
            assert!(
                (499..=501).contains(&(w[1].0 - w[0].0)),
                "one turn per round period: {:?}",
                w.iter().map(|x| x.0).collect::<Vec<_>>()
            );
        }
        for (_, x) in &t {
            let c = f64::from(x.temps[0]) / 100.0;
            assert!((c - s.true_temp_c()).abs() < 0.5, "{c} vs {}", s.true_temp_c());
            // A 12-bit register value, converted by the firmware's driver.
            let lsb = (f64::from(x.temps[0]) / 6.25).round() as i16;
            assert_eq!(hemiwatch_firmware::tmp105::raw_to_centi(lsb << 4), x.temps[0]);
            assert_eq!(x.flags, Flags::default());
        }
        assert!(s.firmware().has_session());
    }

    #[test]
    fn without_a_beacon_it_is_silent_and_unanswered_it_says_hello_every_retry() {
        let (mut s, mut host) = (seat(Scenario::Steady, 500), Host::new(500));
        host.beaconing = false;
        run(&mut s, &mut host, 0, 5_000);
        assert!(host.log.is_empty(), "no beacon, no word: {:?}", host.log);
        host.beaconing = true;
        host.answer_hellos = false;
        host.bus = LineBus::new(*host.bus.plan(), 5_000_000_000, 1);
        run(&mut s, &mut host, 5_000, 10_000);
        let hellos = host.hellos();
        assert!((9..=10).contains(&hellos.len()), "{hellos:?}");
        for w in hellos.windows(2) {
            assert!(
                (499..=501).contains(&(w[1].0 - w[0].0)),
                "one per turn: {hellos:?}"
            );
        }
        assert!(host.telemetry().is_empty());
    }

    #[test]
    fn a_reboot_is_a_new_firmware_boot_after_the_silence() {
        let scenario = Scenario::SilentThenReboot {
            at_ms: 3_000,
            for_ms: 4_000,
        };
        let (mut s, mut host) = (seat(scenario, 500), Host::new(500));
        run(&mut s, &mut host, 0, 12_000);
        let hellos = host.hellos();
        assert_eq!(hellos.len(), 2, "{hellos:?}");
        assert!(hellos[1].0 >= 7_000);
        assert_ne!(hellos[0].1.boot_id, hellos[1].1.boot_id);
        assert_eq!(hellos[0].1.reset, ResetCause::PowerOn);
        assert_eq!(hellos[1].1.reset, ResetCause::Watchdog);
        let t = host.telemetry();
        assert!(!t.iter().any(|(at, _)| (3_000..7_000).contains(at)), "silent");
        let last = t.last().expect("telemetry after the reboot").1;
        assert!(last.flags.contains(Flags::WATCHDOG_RESET));
    }

    #[test]
    fn a_dead_sensor_is_the_firmwares_sensor_fault() {
        let (mut s, mut host) = (seat(Scenario::SensorFails { at_ms: 4_000 }, 500), Host::new(500));
        run(&mut s, &mut host, 0, 8_000);
        let t = host.telemetry();
        // A turn carries the latest sample: up to one sampling period old.
        let before: Vec<_> = t.iter().filter(|(at, _)| *at < 4_000).collect();
        let after: Vec<_> = t.iter().filter(|(at, _)| *at >= 4_500).collect();
        assert!(before
            .iter()
            .all(|(_, x)| x.temps.len() == 1 && x.flags == Flags::default()));
        assert!(after.len() >= 6, "{after:?}");
        assert!(after
            .iter()
            .all(|(_, x)| x.temps.is_empty() && x.flags.contains(Flags::SENSOR_FAULT)));
        assert!(host.log.iter().any(
            |(_, m)| matches!(m, Message::Event(e) if e.code == hemiwatch_protocol::FaultCode::SENSOR_LOST)
        ));
    }

    #[test]
    fn a_runaway_heats_at_its_rate_and_cools_once_failover_cuts_its_load() {
        let scenario = Scenario::Runaway {
            start_ms: 1_000,
            rate_c_per_min: 6.0,
        };
        let (mut s, mut host) = (seat(scenario, 500), Host::new(500));
        run(&mut s, &mut host, 0, 1_000);
        let start = s.true_temp_c();
        run(&mut s, &mut host, 1_000, 61_000);
        let rise = s.true_temp_c() - start;
        assert!((5.5..6.0).contains(&rise), "{rise} °C in the first minute");
        let mut up = Vec::new();
        let down = host.send(&Message::Failover(Failover { active: true }));
        s.on_wire(&down, 61_000_000, &mut up);
        assert!(up.is_empty(), "the ack waits for the seat's turn");
        assert!(s.firmware().safe_mode());
        let hot = s.true_temp_c();
        run(&mut s, &mut host, 61_010, 121_000);
        assert!(
            s.true_temp_c() < hot - 2.0,
            "{} after a minute of failover",
            s.true_temp_c()
        );
        let last = host.telemetry().last().expect("telemetry").1.flags;
        assert!(last.contains(Flags::FAILOVER_ACTIVE));
    }

    #[test]
    fn loss_drops_only_telemetry_and_the_host_sees_the_gaps() {
        let (mut s, mut host) = (seat(Scenario::Steady, 100).with_loss(0.5), Host::new(100));
        run(&mut s, &mut host, 0, 20_000);
        assert_eq!(host.hellos().len(), 1, "hellos are not lost");
        let n = host.telemetry().len();
        assert!((60..140).contains(&n), "{n} of ~200 telemetry frames");
    }
}
