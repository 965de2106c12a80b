//! One simulated seat: the same protocol state machine as the firmware ([`SeatLink`]), a thermal
//! model, and a scenario of incidents. Time is a parameter, so a capture of hours is produced in
//! milliseconds and a live run follows the wall clock.

use hemiwatch_protocol::{
    Ack, AckStatus, BoardKind, FirmwareVersion, Flags, Hello, Message, RawFrame, ResetCause, SeatId, SeatKey,
    SeatLink, Telemetry, MAX_WIRE, PROTOCOL_MINOR,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

/// A seat re-sends `Hello` this often until a host answers (firmware `HELLO_RETRY_MS`).
pub const HELLO_RETRY_MS: u64 = 1_000;
/// A seat that has not heard a verified host frame for this long says `Hello` again
/// (firmware `HOST_TIMEOUT_MS`).
pub const HOST_TIMEOUT_MS: u64 = 5_000;
/// The simulated TMP105's resolution (the firmware driver's [`RESOLUTION_C`]).
///
/// [`RESOLUTION_C`]: hemiwatch_firmware::tmp105::RESOLUTION_C
pub(crate) const SENSOR_STEP_C: f64 = hemiwatch_firmware::tmp105::RESOLUTION_C;

/// What happens to a simulated seat over time.
#[derive(Clone, Debug, PartialEq)]
pub enum Scenario {
    /// A healthy console: settles at its base temperature with sensor noise.
    Steady,
    /// A component heats up from `start_ms` at `rate_c_per_min` until failover cuts its load.
    Runaway {
        /// When the runaway starts (simulation ms).
        start_ms: u64,
        /// Heating rate, °C per minute.
        rate_c_per_min: f64,
    },
    /// The seat stops talking at `at_ms` for `for_ms`, then reboots (new boot identity).
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
    /// The sensor dies at `at_ms`: from then on the seat sends `SENSOR_FAULT` and no
    /// temperature, as the firmware does when its sensor stops answering.
    SensorFails {
        /// When it dies.
        at_ms: u64,
    },
}

/// One simulated seat.
pub struct SimSeat {
    id: SeatId,
    key: SeatKey,
    link: SeatLink,
    scenario: Scenario,
    rng: SmallRng,
    noise: Normal<f64>,
    boot_ms: u64,
    boots: u32,
    period_ms: u64,
    next_telemetry_ms: u64,
    last_hello_ms: Option<u64>,
    host_seen_ms: u64,
    base_c: f64,
    temp_c: f64,
    failover: bool,
    silent_done: bool,
    loss: f64,
}

impl SimSeat {
    /// A seat that boots at `now_ms`. `seed` makes its noise and boot ids reproducible.
    pub fn new(id: SeatId, key: SeatKey, scenario: Scenario, period_ms: u64, seed: u64, now_ms: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed ^ (u64::from(id) << 32));
        let base_c = 34.0 + rng.random::<f64>() * 8.0;
        let sigma = match scenario {
            Scenario::NoisySensor { sigma_c } => sigma_c,
            _ => 0.08,
        };
        let boot_id = rng.random();
        Self {
            id,
            link: SeatLink::new(id, &key, boot_id),
            key,
            scenario,
            rng,
            noise: Normal::new(0.0, sigma).unwrap_or_else(|_| Normal::new(0.0, 0.08).expect("constant")),
            boot_ms: now_ms,
            boots: 1,
            period_ms: period_ms.max(50),
            // Spread seats over the period so a line is not hit by 100 frames at once.
            next_telemetry_ms: now_ms + (u64::from(id) * 37) % period_ms.max(50),
            last_hello_ms: None,
            host_seen_ms: now_ms,
            base_c,
            temp_c: base_c,
            failover: false,
            silent_done: false,
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
        self.temp_c
    }

    fn silent_at(&self, now_ms: u64) -> bool {
        matches!(self.scenario, Scenario::SilentThenReboot { at_ms, for_ms }
            if !self.silent_done && now_ms >= at_ms && now_ms < at_ms + for_ms)
    }

    fn reboot(&mut self, now_ms: u64) {
        self.boots += 1;
        let boot_id = self.rng.random();
        self.link = SeatLink::new(self.id, &self.key, boot_id);
        self.boot_ms = now_ms;
        self.last_hello_ms = None;
        self.host_seen_ms = now_ms;
        self.failover = false;
    }

    /// Advances physics to `now_ms` and appends the wire frames due by then to `out`.
    pub fn poll(&mut self, now_ms: u64, out: &mut Vec<u8>) {
        if self.silent_at(now_ms) {
            return;
        }
        if let Scenario::SilentThenReboot { at_ms, for_ms } = self.scenario {
            if !self.silent_done && now_ms >= at_ms + for_ms {
                self.silent_done = true;
                self.reboot(now_ms);
            }
        }
        let mut buf = [0u8; MAX_WIRE];
        let host_lost = now_ms.saturating_sub(self.host_seen_ms) >= HOST_TIMEOUT_MS;
        let hello_due = self
            .last_hello_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= HELLO_RETRY_MS);
        if (!self.link.has_session() || host_lost) && hello_due {
            let hello = Message::Hello(Hello {
                protocol_minor: PROTOCOL_MINOR,
                firmware: FirmwareVersion {
                    major: 1,
                    minor: 0,
                    patch: 0,
                },
                board: BoardKind::Simulated,
                boot_id: 0,
                counter: 0,
                sensors: 0b1,
                reset: if self.boots > 1 {
                    ResetCause::Watchdog
                } else {
                    ResetCause::PowerOn
                },
                period_ms: self.period_ms as u16,
            });
            if let Ok(w) = self.link.encode(&hello, &mut buf) {
                out.extend_from_slice(w);
            }
            self.last_hello_ms = Some(now_ms);
        }
        while self.next_telemetry_ms <= now_ms {
            let at = self.next_telemetry_ms;
            self.next_telemetry_ms += self.period_ms;
            self.step_physics(at);
            let t = self.sample(at);
            // Before the host answers there is no session: the sample is measured, not sent.
            if let Ok(w) = self.link.encode(&Message::Telemetry(t), &mut buf) {
                if self.loss == 0.0 || self.rng.random::<f64>() >= self.loss {
                    out.extend_from_slice(w);
                }
            }
        }
    }

    fn step_physics(&mut self, at_ms: u64) {
        let dt_min = self.period_ms as f64 / 60_000.0;
        match self.scenario {
            Scenario::Runaway {
                start_ms,
                rate_c_per_min,
            } if at_ms >= start_ms && !self.failover => {
                self.temp_c += rate_c_per_min * dt_min;
            }
            Scenario::Warming { rise_c, tau_min } if !self.failover => {
                self.temp_c +=
                    (self.base_c + rise_c - self.temp_c) * (1.0 - (-dt_min / tau_min.max(0.1)).exp());
            }
            _ => {
                // First-order relaxation toward the base temperature, time constant 2 minutes:
                // how a console cools once failover has cut the faulty load.
                let tau_min = 2.0;
                self.temp_c += (self.base_c - self.temp_c) * (dt_min / tau_min).min(1.0);
            }
        }
    }

    fn sample(&mut self, at_ms: u64) -> Telemetry {
        let mut reading = self.temp_c + self.noise.sample(&mut self.rng);
        if matches!(self.scenario, Scenario::NoisySensor { .. }) && self.rng.random::<f64>() < 0.02 {
            reading += 25.0; // a single-sample glitch of a loose connector
        }
        let quantised = (reading / SENSOR_STEP_C).round() * SENSOR_STEP_C;
        let mut flags = Flags::default();
        flags.set(Flags::FAILOVER_ACTIVE, self.failover);
        flags.set(Flags::WATCHDOG_RESET, self.boots > 1);
        let mut temps = heapless::Vec::new();
        match self.scenario {
            Scenario::SensorFails { at_ms: dead } if at_ms >= dead => flags.set(Flags::SENSOR_FAULT, true),
            _ => {
                let _ = temps.push((quantised * 100.0).round() as i16);
            }
        }
        Telemetry {
            uptime_min: (at_ms.saturating_sub(self.boot_ms) / 60_000) as u32,
            flags,
            temps,
            supply_mv: 3300 + self.rng.random_range(0..20),
        }
    }

    /// Handles a frame from the host; appends the seat's answer (an `Ack`) to `out`.
    pub fn on_frame(&mut self, frame: &RawFrame<'_>, now_ms: u64, out: &mut Vec<u8>) {
        if self.silent_at(now_ms) {
            return;
        }
        let Ok((counter, msg)) = self.link.accept(frame) else {
            return;
        };
        self.host_seen_ms = now_ms;
        let status = match &msg {
            Message::Session(_) => return,
            Message::Failover(f) => {
                self.failover = f.active;
                AckStatus::Ok
            }
            Message::SetConfig(c) if c.period_ms >= 50 => {
                self.period_ms = u64::from(c.period_ms);
                AckStatus::Ok
            }
            Message::SetConfig(_) => AckStatus::Rejected,
            _ => AckStatus::Ok,
        };
        let ack = Message::Ack(Ack {
            counter,
            of: msg.kind() as u8,
            status,
        });
        let mut buf = [0u8; MAX_WIRE];
        if let Ok(w) = self.link.encode(&ack, &mut buf) {
            out.extend_from_slice(w);
        }
    }
}
