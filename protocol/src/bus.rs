//! Bus access on an RS-485 multi-drop line: who may drive the shared half-duplex pair, when.
//!
//! One line carries a segment of seats (72 to 120) and the host; every receiver hears every byte,
//! and a byte driven by two transmitters at once is garbage for all of them. Left to themselves
//! (every seat sends when its own timer says so) the seats are pure ALOHA: at 72 seats × 2 Hz of
//! 24-byte frames at 115200 baud the offered load is G ≈ 0.30 and ALOHA loses 1 − e^(−2G) ≈ 45 %
//! of frames; seats powered by one breaker boot in the same millisecond and then collide on every
//! period for as long as their clocks stay together (the wire emulator measures 58 % of frames
//! lost from such a power-on storm). This module replaces that with a schedule.
//!
//! # The scheme: beacon rounds with position-ordered implicit token ("minislot chaining")
//! The active host divides its line's seats (consecutive seat ids `first ..`) into **rounds** of at
//! most [`MAX_ROUND_SEATS`]; every telemetry period it opens each round once, at fixed times
//! `period / rounds` apart, with one transmission: the downlink commands queued for the line
//! (at most [`COMMANDS_PER_ROUND`]) followed by a [`Beacon`] naming the round's seats. After the
//! beacon the seats speak in seat-id order, each exactly once: the seat at position `p` of the
//! round transmits when the bus has been silent for
//!
//! ```text
//! wait(p) = gap + (p − last − 1) × slot        measured from the last byte heard on the bus
//! ```
//!
//! where `last` is the position of the last seat heard in this round (−1 right after the beacon).
//! A live seat costs its frame plus one `gap`; a dead or absent seat costs one `slot` of silence,
//! about a sixth of a frame. Any byte heard restarts every seat's wait, so a seat that is late
//! never talks over an earlier one: the earlier one's first byte reaches the later one before its
//! wait ends (the derivation of `slot` below makes that hold for the whole round despite ±1 %
//! clocks). This is the *minislot* scheme of BRAM (Chlamtac, Franta & Levin, 1979) and of the
//! FlexRay dynamic segment, re-synchronised on every frame instead of on a global clock.
//!
//! - **Never two talkers.** Turns are ordered and separated by silence, and a seat only transmits
//!   inside a round whose beacon it heard; a seat that hears garbage (noise, or an unexpected
//!   order) sits the round out ([`SeatAccess::on_garbage`]). The emulator test proves zero
//!   collisions over thousands of cycles with ±1 % clock skew and scheduling jitter.
//! - **Power-on storm settles by itself.** A seat never transmits spontaneously: after boot it
//!   listens until a beacon of its round. The whole breaker's worth of seats booting in the same
//!   millisecond then answers in seat order (its `Hello` first), in the very first round.
//! - **Joining mid-cycle** costs nothing: the seat's position is its seat id, so it waits for the
//!   next beacon of its round and takes its turn; nobody else's timing changes.
//! - **Bounded command latency.** The host transmits only at round openings, so a command waits at
//!   most one round interval plus the commands queued before it ([`Plan::command_latency_ns`]);
//!   with at least [`MIN_ROUNDS`] rounds per period that is about half a telemetry period. The
//!   host's own output latency (a USB-RS485 bridge's latency timer, 1–16 ms) adds to it once; it
//!   delays a round opening, never overlaps a turn, because the host waits for the chain's end.
//! - **Clock tolerance.** Seats never keep time beyond one round: every wait is measured from the
//!   last byte heard, a few milliseconds at most, so an HSI fallback at ±1 % (and the host's
//!   crystal) only has to hold over those milliseconds. The derivation of `slot` budgets it.
//!
//! ## Why not the alternatives
//! - **Host polling (Modbus RTU, PROFIBUS DP master/slave).** Simplest and collision-free, but
//!   every seat frame costs a poll frame (9 bytes) and two turnarounds, and the host has to react
//!   to every answer within a few character times — a daemon behind a USB-RS485 adapter sees
//!   1–16 ms of USB latency (FTDI latency timer), which alone would exceed the bus time of a seat
//!   frame. Here the host transmits once per round and never needs to react quickly.
//! - **Beacon-synchronised TDMA (fixed slots after a beacon).** Slot `p` starts at `p × width`
//!   after the beacon on the seat's own clock; at ±1 % that drifts by 1 % of the round, 0.7 ms
//!   at the end of a 70 ms round, so every slot needs a guard of a third of a frame, and a dead
//!   seat costs a full slot. Chaining re-synchronises on every frame and a dead seat costs `slot`.
//! - **Token passing (BACnet MS/TP, PROFIBUS FDL).** Explicit token frames cost a frame per seat
//!   per rotation (like polling), token loss needs recovery timers scaled by address, and a seat
//!   that holds the token can starve the host's commands. The implicit token here is the silence.
//! - **Plain "transmit after your predecessor" chaining without beacons.** A chain with no
//!   periodic anchor drifts over the whole period, cannot bound where the host's commands go,
//!   and after a break (noise, a reboot) nobody knows whose turn it is. Beacons give the chain a
//!   fresh start every round and give the host its transmit window.
//!
//! ## Timing parameters (see [`Timing`])
//! With character time `c = 10 / baud` (8N1: start + 8 data + stop):
//! - `turnaround` = [`TURNAROUND_NS`]: the transmitter's driver-enable/release around a frame.
//! - `jitter` = [`JITTER_NS`]: how late a seat's timer interrupt may start its transmission.
//! - `gap = 2c + turnaround + jitter`: the silence that ends a turn. Longer than the 1.5 c a UART
//!   may pause inside a frame (Modbus RTU's t1.5), plus the release of the previous driver.
//! - `detect = turnaround + c + jitter`: from a seat's decision to transmit until every other seat
//!   has received its first byte.
//! - `slot`: the silence one absent position costs. Seat `p` and seat `p + 1` (after `k` absent
//!   positions since the last byte) wait `gap + kτ` and `gap + (k + 1)τ` on clocks off by up to
//!   ±ε; the later one must hear the earlier one's first byte before its own wait ends:
//!   `(gap + (k+1)τ)(1 − ε) − (gap + kτ)(1 + ε) ≥ detect` for all `k < K = MAX_ROUND_SEATS`, i.e.
//!   `τ ≥ (detect + 2ε·gap) / (1 − ε(2K + 1))` ([`slot_ns`]).
//!
//! | baud    | c       | gap       | detect    | slot      |
//! |---------|---------|-----------|-----------|-----------|
//! | 115200  | 86.8 µs | 203.6 µs  | 116.8 µs  | 326.7 µs  |
//! | 460800  | 21.7 µs | 73.4 µs   | 51.7 µs   | 143.7 µs  |
//!
//! ## A jitter budget per line ([`Timing::with_jitter`])
//! [`JITTER_NS`] (20 µs) is a timer interrupt's latency on the STM32F411. Nodes that transmit
//! later than that after their wait ends — the QEMU rig (the emulator runs when the host's
//! scheduler lets it: milliseconds), simulated seats behind a pty, a daemon on a loaded machine —
//! break the derivation above: seat `p + 1` could start before seat `p`'s late first byte reached
//! it. The cure is a larger `jitter`: `gap` and `detect` grow by it and `slot` by ≈ 2.7 × it, so
//! the scheme stays collision-free at the price of bus time (2 ms of jitter: `gap` 2.2 ms, `slot`
//! 5.8 ms at 115200 baud; fine for the rig's few seats, too slow for 72 seats at 2 Hz, which
//! [`Plan::with_timing`] refuses as over capacity).
//!
//! **Every node of a line must use the same budget**, or a seat with a smaller `slot` overtakes
//! one with a larger. So the budget has one home, the host's per-line configuration
//! (`jitter_us` of a `[[line]]`, default 20), and travels to the seats **in every beacon**
//! ([`Beacon::jitter_us`], one byte under 128 µs, two above): a seat derives `gap` and `slot` from
//! the beacon and its own baud rate ([`Beacon::timing`]). Nothing is provisioned per seat, a line
//! can be re-timed by restarting its host, and a seat moved to another line needs no change. A
//! forged beacon could set a wrong budget — it can already make seats talk at the wrong time (see
//! "Why the beacon is not authenticated"); the worst it achieves is silence, which raises alerts.
//! The baud rate is not carried: a seat that does not share the line's rate hears no beacon at all.
//!
//! ## Sessions and the host's epoch
//! A seat's session belongs to the host that answered its `Hello`. Beacons carry that host's
//! **epoch** (random at every start, [`Beacon::epoch`]): a seat that hears a beacon of another
//! epoch (the daemon restarted, a standby took over) knows its session is unknown there and says
//! `Hello` in its next turn; a seat that hears no beacon for 5 s (the firmware's
//! `HOST_TIMEOUT_MS`) ends its session too. This replaces the per-seat liveness pings of the
//! free-running protocol, whose cost a line cannot carry (72 seats pinged every 2 s would need 36
//! commands/s against the 12 a line's command window carries at 2 Hz). A restart that draws the
//! same epoch (1 in 256) and lasts under 5 s leaves seats on a session the new host does not
//! know; their frames are refused (`no_session`) and counted until one of the two rules applies.
//!
//! ## Own echo
//! A transmitter does not hear its own bytes: the rig's transceivers are MAX485-style with RE̅
//! tied to DE, so the receiver is off while driving. The state machines do not depend on it: a
//! seat's echo arrives when its turn is already over, a host's echo only moves its "last byte
//! heard" to the end of its own transmission, which it assumes anyway. (The emulator in
//! `hemiwatch-tests` delivers every byte to every node, the transmitter included.)
//!
//! ## What runs it
//! The seat core (`hemiwatch-firmware`'s `Seat`, on both boards and in the simulator) follows
//! [`SeatAccess`]; the daemon's line task, the simulator's capture and the HIL tests' host follow
//! [`HostScheduler`] through the daemon's `LineBus` (commands queued per line, `Failover` first).
//! [`StandbyWatch`] is ready for the hot-standby host but no host runs it yet.
//!
//! ## The arithmetic (see [`Plan`]; frame sizes in [`FrameSizes::MEASURED`])
//! Rounds `B = max(MIN_ROUNDS, ⌈N / 32⌉)`, interval `I = T / B`. *Utilisation* is the share of
//! time the wire carries characters: `(B × beacon + N × telemetry) × 10 / baud / T`; *busy* adds
//! the `gap` after every transmission (time nobody else may use). Worst-case command latency is
//! `I + turnaround + COMMANDS_PER_ROUND × command`: the command just missed a round opening and
//! is the last of the queued ones at the next. Telemetry 24 bytes, beacon 11 (it carries the
//! jitter budget and the host's epoch), `Failover` 16.
//!
//! | seats | rate | baud   | rounds | utilisation | busy    | command latency ≤ |
//! |-------|------|--------|--------|-------------|---------|-------------------|
//! |  72   | 1 Hz | 115200 | 3      | 15.29 %     | 16.81 % | 336.1 ms          |
//! |  72   | 2 Hz | 115200 | 3      | 30.57 %     | 33.63 % | 169.5 ms          |
//! | 120   | 1 Hz | 115200 | 4      | 25.38 %     | 27.91 % | 252.8 ms          |
//! | 120   | 2 Hz | 115200 | 4      | 50.76 %     | 55.81 % | 127.8 ms          |
//! |  72   | 1 Hz | 460800 | 3      |  3.82 %     |  4.37 % | 334.0 ms          |
//! |  72   | 2 Hz | 460800 | 3      |  7.64 %     |  8.74 % | 167.4 ms          |
//! | 120   | 1 Hz | 460800 | 4      |  6.35 %     |  7.26 % | 250.7 ms          |
//! | 120   | 2 Hz | 460800 | 4      | 12.69 %     | 14.51 % | 125.7 ms          |
//!
//! The measured figures (the emulator in `hemiwatch-tests`, beside the ALOHA baseline) are
//! printed by `cargo run -p hemiwatch-tests --example bus_table`; they agree with this table
//! within 1 % of utilisation (the measurement also carries the commands and their `Ack`s) and stay
//! under the latency bound, with no collision.
//!
//! **120 seats at 2 Hz on 115200 baud within 50 %: not with authenticated 24-byte telemetry, under
//! any scheme.** The telemetry alone is 240 frames/s × 24 bytes × 86.8 µs = 500.0 ms/s, exactly
//! 50 %, before a single beacon, poll or gap. What would make it: (a) 460800 baud (12.7 %, see
//! below), the recommended fix; (b) a 4-byte MAC (20-byte frames: 42.4 % utilisation with the
//! beacons, 47.5 % busy with the gaps) at the price of a 2^-32 forgery chance per attempt — one
//! expected forgery per ~86 days of attempts at the full line rate (576 frames/s), weak for a
//! parliament; (c) unauthenticated telemetry (16 bytes: 34.1 % utilisation, 39.1 % busy), which
//! gives up the "spoofed all fine" defence.
//!
//! ## The higher rate: 460800 baud
//! The classic TIA/EIA-485 rule of thumb is data rate × cable length ≤ 10^8 bit/s·m on 24 AWG
//! twisted pair (and 1200 m at ≤ 100 kbit/s). A hemicycle segment (a tier of seats, run from the
//! technical gallery) is under 200 m; 10^8 / 200 m = 500 kbit/s, so 460800 baud fits with margin
//! (921600 would need ≤ 108 m). Transceivers: the MAX3485 (3.3 V, 10 Mbit/s) and TI THVD1450
//! (50 Mbit/s) both sustain it; the STM32F411 USART reaches it from HSI with 16× oversampling
//! (divisor error < 0.2 %), standard USB-RS485 bridges (FT232R, CP2102N) support it, and the
//! ±1 % HSI error stays inside the ±3.75 % the 8N1 receiver tolerates.
//!
//! ## Hot-standby host
//! Only the active host transmits: commands and beacons, at round openings. A standby host
//! listens to everything (it receives every seat's telemetry too, so it is warm) and runs a
//! [`StandbyWatch`]: when no beacon has been heard for [`Plan::takeover_after_ns`] (three round
//! intervals: two missed rounds, which no lone noise burst causes), it starts its own
//! [`HostScheduler`]. Seats need no change: a beacon is a beacon, whoever sends it. A host that is
//! active and hears a beacon it did not send (a split brain after a partition) must stop
//! transmitting at once and become standby; the hosts' configured ranks decide who comes back.
//!
//! ## Why the beacon is not authenticated
//! An attacker on the bus can always jam it; what the threat model requires is that he cannot make
//! a seat look alive nor hide a hot seat, and the beacon gives him neither: every seat frame still
//! carries its own CMAC and counter, so a forged beacon can only make seats talk at the wrong time
//! (collisions: silence, which raises an alert) or not at all (silence, alert). Authenticating it
//! would need a key shared by every seat of the line (extracted from any one board), cost 8 bytes
//! per round, and could not stop the jamming it would be meant to prevent.

use crate::frame::{seal, EncodeError, Header, RawFrame, MAX_BODY, PROTOCOL_MAJOR};
use crate::message::MessageKind;
use crate::SeatId;
use serde::{Deserialize, Serialize};

/// A duration or instant in nanoseconds. The seat passes its own monotonic clock: every wait is
/// measured between two instants of the same clock, so the clocks of different nodes never meet.
pub type Nanos = u64;

const NS_PER_S: u64 = 1_000_000_000;
const PPM: u64 = 1_000_000;

/// Bits per character on the wire: 8N1 (start bit, 8 data bits, stop bit).
pub const BITS_PER_CHAR: u64 = 10;

/// Driver-enable turnaround budget around a transmission. The transceiver's enable time is below
/// 1 µs (MAX3485 datasheet t_ZH ≤ 900 ns, THVD1450 ≤ 100 ns); the rest is the firmware raising DE
/// before the first byte and dropping it on the USART transmission-complete interrupt.
pub const TURNAROUND_NS: Nanos = 10_000;

/// Latest a seat's transmission may start after its wait ends: the timer interrupt's latency
/// behind higher-priority interrupts (UART RX, I2C) on the STM32F411 at 100 MHz.
pub const JITTER_NS: Nanos = 20_000;

/// Worst clock-rate error of any node: the STM32F411 falling back to its internal HSI oscillator
/// (±1 %, the project's design figure; the host's crystal is far better).
pub const CLOCK_TOLERANCE_PPM: u64 = 10_000;

/// Most seats one beacon opens: bounds the run of silent positions the `slot` derivation covers.
pub const MAX_ROUND_SEATS: u16 = 32;

/// Fewest rounds per telemetry period, so a command waits at most about half a period.
pub const MIN_ROUNDS: u16 = 2;

/// Most commands the host sends ahead of one beacon; the command-latency bound assumes no more
/// than this many are queued per round interval (a burst of `M` takes `⌈M / 2⌉` rounds).
pub const COMMANDS_PER_ROUND: u16 = 2;

/// Seat field of a beacon: addressed to every seat of the line (seat ids start at 1).
pub const BROADCAST: SeatId = 0;

/// Time to send `bytes` characters at `baud`, rounded up to the nanosecond.
pub const fn bytes_ns(bytes: u64, baud: u32) -> Nanos {
    (bytes * BITS_PER_CHAR * NS_PER_S).div_ceil(baud as u64)
}

/// `d` stretched by the worst clock error: how long a wait of `d` may really last.
const fn slow(d: Nanos) -> Nanos {
    d + (d * CLOCK_TOLERANCE_PPM).div_ceil(PPM)
}

/// The silence one absent position costs (derivation in the module docs):
/// `⌈(detect + 2ε·gap) / (1 − ε(2K + 1))⌉` with `K` = [`MAX_ROUND_SEATS`].
pub const fn slot_ns(detect: Nanos, gap: Nanos) -> Nanos {
    let k = MAX_ROUND_SEATS as u64;
    let num = detect * PPM + 2 * CLOCK_TOLERANCE_PPM * gap;
    let den = PPM - CLOCK_TOLERANCE_PPM * (2 * (k - 1) + 1);
    num.div_ceil(den)
}

/// The timing of one line at one baud rate; every figure derived from the constants above.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Line rate in bit/s.
    pub baud: u32,
    /// One 8N1 character.
    pub char_ns: Nanos,
    /// Silence that ends a turn.
    pub gap_ns: Nanos,
    /// From a decision to transmit until every node has received the first byte.
    pub detect_ns: Nanos,
    /// Silence one absent position costs.
    pub slot_ns: Nanos,
    /// Transmit-latency budget the figures were derived for (see [`Timing::with_jitter`]).
    pub jitter_ns: Nanos,
}

impl Timing {
    /// Derives the timing for `baud` with the hardware jitter budget [`JITTER_NS`].
    pub const fn new(baud: u32) -> Self {
        Self::with_jitter(baud, JITTER_NS)
    }

    /// Derives the timing for `baud` with a jitter budget of `jitter_ns` instead of
    /// [`JITTER_NS`]: for nodes whose transmissions start later than a timer interrupt's latency
    /// after their wait ends (a pty, QEMU, a loaded host). Every node of a line must use the same
    /// budget; the host carries it in every [`Beacon`] (module docs, "A jitter budget per line").
    pub const fn with_jitter(baud: u32, jitter_ns: Nanos) -> Self {
        let char_ns = bytes_ns(1, baud);
        let gap_ns = 2 * char_ns + TURNAROUND_NS + jitter_ns;
        let detect_ns = TURNAROUND_NS + char_ns + jitter_ns;
        Self {
            baud,
            char_ns,
            gap_ns,
            detect_ns,
            slot_ns: slot_ns(detect_ns, gap_ns),
            jitter_ns,
        }
    }

    /// Time on the wire of a frame of `bytes` bytes.
    pub const fn frame_ns(&self, bytes: usize) -> Nanos {
        bytes_ns(bytes as u64, self.baud)
    }
}

/// Wire sizes (COBS and delimiter included) the arithmetic uses; `tests/bus.rs` encodes each
/// frame and checks these figures.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FrameSizes {
    /// Authenticated `Telemetry`, two temperatures.
    pub telemetry: usize,
    /// A [`Beacon`] for seat ids up to 16383 with a jitter budget under 128 µs (one byte more
    /// above).
    pub beacon: usize,
    /// An authenticated command (`Failover`).
    pub command: usize,
    /// The longest frame a seat sends in one turn (`Hello`).
    pub longest_turn: usize,
    /// An authenticated `Ack` with the largest counter: a `Ping`'s answer rides behind its seat's
    /// telemetry in the same turn (so a probe costs the seat no telemetry), at most one per
    /// command of the round, which the worst round budgets.
    pub ack: usize,
}

impl FrameSizes {
    /// The sizes of this protocol version, measured on encoded frames.
    pub const MEASURED: Self = Self {
        telemetry: 24,
        beacon: 11,
        command: 16,
        longest_turn: 30,
        ack: 22,
    };
}

/// Why a line cannot be scheduled.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// No seats, a zero period, or a zero baud rate.
    Empty,
    /// A round with every seat sending its longest frame does not fit the round interval.
    OverCapacity,
}

/// The schedule of one line: which seats, how many rounds, and the figures that follow.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Lowest seat id on the line; the line's seats are `first_seat .. first_seat + seats`.
    pub first_seat: SeatId,
    /// Seats on the line.
    pub seats: u16,
    /// Telemetry period.
    pub period_ns: Nanos,
    /// Line timing.
    pub timing: Timing,
    /// Frame sizes used by the arithmetic.
    pub sizes: FrameSizes,
    /// Rounds per period.
    pub rounds: u16,
}

impl Plan {
    /// Plans a line; refuses a schedule whose worst round would overrun its interval.
    pub const fn new(
        first_seat: SeatId,
        seats: u16,
        period_ns: Nanos,
        baud: u32,
        sizes: FrameSizes,
    ) -> Result<Self, PlanError> {
        Self::with_timing(first_seat, seats, period_ns, Timing::new(baud), sizes)
    }

    /// Plans a line with an explicit [`Timing`] (a jitter budget other than [`JITTER_NS`]).
    pub const fn with_timing(
        first_seat: SeatId,
        seats: u16,
        period_ns: Nanos,
        timing: Timing,
        sizes: FrameSizes,
    ) -> Result<Self, PlanError> {
        if seats == 0 || period_ns == 0 || timing.baud == 0 {
            return Err(PlanError::Empty);
        }
        let by_size = seats.div_ceil(MAX_ROUND_SEATS);
        let rounds = if by_size > MIN_ROUNDS { by_size } else { MIN_ROUNDS };
        let plan = Self {
            first_seat,
            seats,
            period_ns,
            timing,
            sizes,
            rounds,
        };
        if plan.worst_round_ns() > plan.interval_ns() {
            return Err(PlanError::OverCapacity);
        }
        Ok(plan)
    }

    /// Time between two round openings.
    pub const fn interval_ns(&self) -> Nanos {
        self.period_ns / self.rounds as u64
    }

    /// Seats opened by round `r` (`r < rounds`): `(first seat id, count)`.
    pub const fn round(&self, r: u16) -> (SeatId, u16) {
        let lo = (self.seats as u32 * r as u32 / self.rounds as u32) as u16;
        let hi = (self.seats as u32 * (r as u32 + 1) / self.rounds as u32) as u16;
        (self.first_seat + lo, hi - lo)
    }

    /// Largest number of seats one round opens.
    pub const fn largest_round(&self) -> u16 {
        self.seats.div_ceil(self.rounds)
    }

    /// Longest a round can take: full command window, beacon, every seat sending its longest frame
    /// after the slowest-clock gap and worst jitter, and the closing gap. A seat answering a
    /// ping of this round sends its telemetry and the answer in one turn: that turn is longer than
    /// a `Hello` by what the pair exceeds it, once per command of the round.
    pub const fn worst_round_ns(&self) -> Nanos {
        let t = &self.timing;
        let s = &self.sizes;
        let per_seat = slow(t.gap_ns) + t.jitter_ns + TURNAROUND_NS + t.frame_ns(s.longest_turn);
        let answered = (s.telemetry + s.ack).saturating_sub(s.longest_turn);
        COMMANDS_PER_ROUND as u64 * (t.frame_ns(s.command) + t.frame_ns(answered))
            + t.frame_ns(s.beacon)
            + TURNAROUND_NS
            + self.largest_round() as u64 * per_seat
            + t.gap_ns
    }

    /// Time per period the wire carries characters in steady state (beacons and telemetry).
    pub const fn wire_ns_per_period(&self) -> Nanos {
        let t = &self.timing;
        self.rounds as u64 * t.frame_ns(self.sizes.beacon)
            + self.seats as u64 * t.frame_ns(self.sizes.telemetry)
    }

    /// Time per period the bus is unavailable: the wire time plus the gap closing each
    /// transmission.
    pub const fn busy_ns_per_period(&self) -> Nanos {
        self.wire_ns_per_period() + (self.rounds as u64 + self.seats as u64) * self.timing.gap_ns
    }

    /// Utilisation in parts per million: share of time the wire carries characters.
    pub const fn utilisation_ppm(&self) -> u64 {
        self.wire_ns_per_period() * PPM / self.period_ns
    }

    /// Busy share in parts per million (utilisation plus gaps).
    pub const fn busy_ppm(&self) -> u64 {
        self.busy_ns_per_period() * PPM / self.period_ns
    }

    /// Worst-case time from a command being queued to its last byte reaching the seat, with at most
    /// [`COMMANDS_PER_ROUND`] commands queued per round interval.
    pub const fn command_latency_ns(&self) -> Nanos {
        self.interval_ns()
            + TURNAROUND_NS
            + COMMANDS_PER_ROUND as u64 * self.timing.frame_ns(self.sizes.command)
    }

    /// Beacon silence after which a standby host takes the line over: two missed rounds.
    pub const fn takeover_after_ns(&self) -> Nanos {
        3 * self.interval_ns()
    }
}

/// Host → line: opens a round; seats `first .. first + count` take their turns in id order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beacon {
    /// Seat id of the round's first position.
    pub first: SeatId,
    /// Positions in the round.
    pub count: u16,
    /// The line's jitter budget in µs ([`Timing::with_jitter`]): every seat derives its `gap` and
    /// `slot` from it and its own baud rate, so the line's timing has one home, the host's config.
    pub jitter_us: u16,
    /// The beaconing host's identity for this run (random at its start): a seat whose session was
    /// opened under another epoch says `Hello` again, because a restarted or standby host does
    /// not know its session. Replaces the per-seat liveness pings (module docs, "Sessions").
    pub epoch: u8,
}

impl Beacon {
    /// A beacon of epoch 0 with the hardware jitter budget [`JITTER_NS`] (tests, the emulator).
    pub const fn new(first: SeatId, count: u16) -> Self {
        Self {
            first,
            count,
            jitter_us: (JITTER_NS / 1_000) as u16,
            epoch: 0,
        }
    }

    /// The timing a seat at `baud` follows in the round this beacon opens.
    pub const fn timing(&self, baud: u32) -> Timing {
        Timing::with_jitter(baud, self.jitter_us as Nanos * 1_000)
    }

    /// Encodes the beacon as an unauthenticated frame of kind [`MessageKind::Beacon`] addressed to
    /// [`BROADCAST`]; `round` fills the header's 4-bit counter field (informative only).
    pub fn encode<'o>(&self, round: u16, out: &'o mut [u8]) -> Result<&'o [u8], EncodeError> {
        let mut body = [0u8; MAX_BODY];
        body[0] = (PROTOCOL_MAJOR << 5) | (round & 0x0F) as u8;
        let addr = (u32::from(BROADCAST) << 4) | MessageKind::Beacon as u32;
        let addr_len = postcard::to_slice(&addr, &mut body[1..])
            .map_err(|_| EncodeError::BufferTooSmall)?
            .len();
        let start = 1 + addr_len;
        let payload_len = postcard::to_slice(self, &mut body[start..MAX_BODY - 2])
            .map_err(|_| EncodeError::BufferTooSmall)?
            .len();
        seal(&mut body, start + payload_len, None, out)
    }

    /// The beacon a frame carries; `None` for any other frame, an authenticated one, or a beacon
    /// not addressed to [`BROADCAST`].
    pub fn from_frame(f: &RawFrame<'_>) -> Option<Self> {
        let Header {
            seat,
            kind,
            authenticated,
            ..
        } = f.header;
        if kind != MessageKind::Beacon || authenticated || seat != BROADCAST {
            return None;
        }
        match postcard::take_from_bytes::<Self>(f.payload) {
            Ok((b, [])) => Some(b),
            _ => None,
        }
    }

    /// This seat's position in the round, if the round includes it.
    pub const fn position(&self, seat: SeatId) -> Option<u16> {
        if seat >= self.first && seat - self.first < self.count {
            Some(seat - self.first)
        } else {
            None
        }
    }
}

/// What a frame heard on the bus was, for the access state machines.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    /// A beacon opening a round.
    Beacon(Beacon),
    /// A valid frame from a seat.
    Uplink(SeatId),
    /// A valid host frame that is not a beacon (a command).
    Downlink,
}

impl Heard {
    /// Classifies a frame that passed the CRC.
    pub fn of(f: &RawFrame<'_>) -> Self {
        if let Some(b) = Beacon::from_frame(f) {
            Self::Beacon(b)
        } else if f.header.kind.is_uplink() {
            Self::Uplink(f.header.seat)
        } else {
            Self::Downlink
        }
    }
}

/// A seat's answer to "may I transmit now?".
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SeatAction {
    /// Not now; ask again at `until` (if the bus stays silent) or when something is heard.
    /// `None`: nothing to do until a beacon of this seat's round.
    Wait(Option<Nanos>),
    /// Transmit one turn now (see [`TurnContent::choose`]), then call [`SeatAccess::transmitted`].
    Transmit,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Turn {
    mine: u16,
    last: i32,
}

/// The seat side: tracks the bus and says when this seat's turn is. Feed it every byte and frame
/// the UART receives (including the seat's own echo), time-stamped on the seat's clock.
#[derive(Copy, Clone, Debug)]
pub struct SeatAccess {
    seat: SeatId,
    timing: Timing,
    turn: Option<Turn>,
    last_byte: Nanos,
}

impl SeatAccess {
    /// A seat that has just booted: silent until it hears a beacon of its round.
    pub const fn new(seat: SeatId, timing: Timing) -> Self {
        Self {
            seat,
            timing,
            turn: None,
            last_byte: 0,
        }
    }

    /// A byte (any byte, even a garbled one) was received at `now`: the bus is not silent.
    pub fn on_byte(&mut self, now: Nanos) {
        self.last_byte = now;
    }

    /// A valid frame ended at `now`.
    pub fn on_frame(&mut self, now: Nanos, heard: Heard) {
        self.last_byte = now;
        match heard {
            Heard::Beacon(b) => {
                self.turn = b.position(self.seat).map(|mine| Turn { mine, last: -1 });
                if b.jitter_us as Nanos * 1_000 != self.timing.jitter_ns {
                    self.timing = b.timing(self.timing.baud);
                }
            }
            Heard::Uplink(seat) => {
                if let Some(t) = &mut self.turn {
                    let first = self.seat - t.mine;
                    let pos = i32::from(seat) - i32::from(first);
                    if pos >= i32::from(t.mine) {
                        // Someone at or after my position spoke first: the chain is not what I
                        // think it is; sit this round out rather than risk talking over it.
                        self.turn = None;
                    } else if pos > t.last {
                        t.last = pos;
                    }
                }
            }
            Heard::Downlink => {}
        }
    }

    /// Bytes that did not form a valid frame ended at `now` (noise, or a collision): the order of
    /// the round is unknown, so this seat sits the round out.
    pub fn on_garbage(&mut self, now: Nanos) {
        self.last_byte = now;
        self.turn = None;
    }

    /// May this seat transmit at `now`?
    pub fn poll(&self, now: Nanos) -> SeatAction {
        let Some(t) = self.turn else {
            return SeatAction::Wait(None);
        };
        let absent = (i32::from(t.mine) - t.last - 1) as u64;
        let at = self.last_byte + self.timing.gap_ns + absent * self.timing.slot_ns;
        if now >= at {
            SeatAction::Transmit
        } else {
            SeatAction::Wait(Some(at))
        }
    }

    /// The seat took its turn: nothing more until the next beacon of its round.
    pub fn transmitted(&mut self) {
        self.turn = None;
    }
}

/// What a seat sends in its turn: one frame, the most urgent.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TurnContent {
    /// The seat has no session: `Hello`.
    Hello,
    /// A command awaits its acknowledgement (the host's failover is not done until it sees it).
    Ack,
    /// A fault or state change awaits reporting.
    Event,
    /// The periodic sample.
    Telemetry,
}

impl TurnContent {
    /// Priority: session first, then acknowledgements, events, telemetry — except that a seat whose
    /// previous turn was not telemetry (`telemetry_owed`) sends telemetry now. Only telemetry
    /// proves a seat alive to the host (an attacker may forward the rest), so a stream of Acks
    /// (a host re-ordering a failover) or Events (a sensor flapping at its range limit) must never
    /// starve it: telemetry takes at least every other turn, and an Ack or Event waits one turn
    /// at most behind it.
    pub const fn choose(
        in_session: bool,
        ack_pending: bool,
        event_pending: bool,
        telemetry_owed: bool,
    ) -> Self {
        if !in_session {
            Self::Hello
        } else if telemetry_owed {
            Self::Telemetry
        } else if ack_pending {
            Self::Ack
        } else if event_pending {
            Self::Event
        } else {
            Self::Telemetry
        }
    }
}

/// The host's answer to "what now?".
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HostAction {
    /// Nothing before `until` (unless a byte is heard, which only delays things).
    Wait(Nanos),
    /// Open a round: send `commands` queued commands, then `beacon`, as one transmission; then call
    /// [`HostScheduler::transmitted`] with the instant its last byte left.
    Open {
        /// How many queued commands go ahead of the beacon.
        commands: u16,
        /// The beacon closing the transmission.
        beacon: Beacon,
        /// Round index, for [`Beacon::encode`].
        round: u16,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Chain { beacon: Beacon, last: i32 },
}

/// The active host's side: opens rounds on schedule and after the previous round's chain is over.
#[derive(Copy, Clone, Debug)]
pub struct HostScheduler {
    plan: Plan,
    epoch: u8,
    next_round: u16,
    next_open: Nanos,
    last_byte: Nanos,
    phase: Phase,
}

impl HostScheduler {
    /// A host taking the line at `now` (boot, or a standby's takeover): first round at once.
    pub const fn new(plan: Plan, now: Nanos) -> Self {
        Self {
            plan,
            epoch: 0,
            next_round: 0,
            next_open: now,
            last_byte: now,
            phase: Phase::Idle,
        }
    }

    /// The same scheduler beaconing `epoch` (see [`Beacon::epoch`]): a host picks a fresh one
    /// at every start so the seats re-open their sessions with it.
    pub const fn with_epoch(mut self, epoch: u8) -> Self {
        self.epoch = epoch;
        self
    }

    /// The plan this scheduler follows.
    pub const fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Beacons `epoch` from the next round on (a host renewing its epoch so that every seat of
    /// the line says `Hello` again).
    pub fn set_epoch(&mut self, epoch: u8) {
        self.epoch = epoch;
    }

    /// The epoch this scheduler beacons.
    pub const fn epoch(&self) -> u8 {
        self.epoch
    }

    /// The beacon opening round `r`.
    pub const fn beacon(&self, r: u16) -> Beacon {
        let (first, count) = self.plan.round(r);
        let jitter_us = self.plan.timing.jitter_ns / 1_000;
        Beacon {
            first,
            count,
            jitter_us: if jitter_us > u16::MAX as u64 {
                u16::MAX
            } else {
                jitter_us as u16
            },
            epoch: self.epoch,
        }
    }

    /// A byte was received at `now` (the host's own echo included).
    pub fn on_byte(&mut self, now: Nanos) {
        self.last_byte = now;
    }

    /// A frame ended at `now`; garbage is just bytes (see [`Self::on_byte`]).
    pub fn on_frame(&mut self, now: Nanos, heard: Heard) {
        self.last_byte = now;
        if let (Phase::Chain { beacon, last }, Heard::Uplink(seat)) = (&mut self.phase, heard) {
            if let Some(p) = beacon.position(seat) {
                *last = (*last).max(i32::from(p));
            }
        }
    }

    /// When the current round's chain is over: no seat of it can still start a turn.
    fn chain_end(&self) -> Nanos {
        let t = &self.plan.timing;
        match self.phase {
            Phase::Idle => self.last_byte,
            Phase::Chain { beacon, last } => {
                let remaining = (i32::from(beacon.count) - 1 - last) as u64;
                if remaining == 0 {
                    self.last_byte + t.gap_ns
                } else {
                    self.last_byte + slow(t.gap_ns + (remaining - 1) * t.slot_ns) + t.detect_ns
                }
            }
        }
    }

    /// What to do at `now`, with `queued` commands waiting for this line.
    pub fn poll(&mut self, now: Nanos, queued: usize) -> HostAction {
        let at = self.next_open.max(self.chain_end());
        if now < at {
            return HostAction::Wait(at);
        }
        let round = self.next_round;
        let commands = (queued.min(COMMANDS_PER_ROUND as usize)) as u16;
        HostAction::Open {
            commands,
            beacon: self.beacon(round),
            round,
        }
    }

    /// The round opening of the last [`HostAction::Open`] left the wire at `end`.
    pub fn transmitted(&mut self, end: Nanos) {
        self.phase = Phase::Chain {
            beacon: self.beacon(self.next_round),
            last: -1,
        };
        self.last_byte = end;
        self.next_round = (self.next_round + 1) % self.plan.rounds;
        self.next_open += self.plan.interval_ns();
        if self.next_open < end {
            // A whole interval behind (the host could not write: a line down, a stalled
            // process): start the schedule again from now rather than open the missed rounds
            // back to back, each cutting the previous round's chain short.
            self.next_open = end + self.plan.interval_ns();
        }
    }
}

/// A standby host's watch on the active one.
#[derive(Copy, Clone, Debug)]
pub struct StandbyWatch {
    takeover_after: Nanos,
    last_beacon: Nanos,
}

impl StandbyWatch {
    /// Starts watching at `now` (as if a beacon had just been heard).
    pub const fn new(plan: &Plan, now: Nanos) -> Self {
        Self {
            takeover_after: plan.takeover_after_ns(),
            last_beacon: now,
        }
    }

    /// A beacon was heard at `now`.
    pub fn on_beacon(&mut self, now: Nanos) {
        self.last_beacon = now;
    }

    /// True when the active host has been silent long enough to take the line over.
    pub const fn should_take_over(&self, now: Nanos) -> bool {
        now.saturating_sub(self.last_beacon) >= self.takeover_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T_2HZ: Nanos = 500_000_000;
    const T_1HZ: Nanos = 1_000_000_000;

    fn plan(seats: u16, period: Nanos, baud: u32) -> Plan {
        Plan::new(1, seats, period, baud, FrameSizes::MEASURED).unwrap()
    }

    #[test]
    fn timing_at_115200_matches_the_hand_figures() {
        let t = Timing::new(115_200);
        // 10 bits / 115200 = 86.806 µs.
        assert_eq!(t.char_ns, 86_806);
        // 2c + 10 µs + 20 µs.
        assert_eq!(t.gap_ns, 2 * 86_806 + 30_000);
        assert_eq!(t.detect_ns, 86_806 + 30_000);
        // (116 806 + 2 × 0.01 × 203 612) / (1 − 0.01 × 63) = 120 878.24 / 0.37 = 326 698.
        assert_eq!(t.slot_ns, 326_698);
        // 24 bytes = 240 bits = 2.083 ms.
        assert_eq!(t.frame_ns(24), 2_083_334);
    }

    #[test]
    fn the_slot_keeps_the_next_seat_behind_for_a_whole_round() {
        for baud in [115_200, 460_800] {
            let t = Timing::new(baud);
            for k in 0..u64::from(MAX_ROUND_SEATS) {
                // Earlier seat on a slow clock, later seat on a fast one.
                let early = slow(t.gap_ns + k * t.slot_ns);
                let later = t.gap_ns + (k + 1) * t.slot_ns;
                let later = later - later * CLOCK_TOLERANCE_PPM / PPM;
                assert!(later >= early + t.detect_ns, "baud {baud}, {k} absent positions");
            }
        }
    }

    #[test]
    fn the_four_configurations_at_115200() {
        // 72 seats: 3 rounds. Per 500 ms: 3 × 11 + 72 × 24 = 1761 bytes = 17 610 bits = 152.86 ms.
        let p = plan(72, T_2HZ, 115_200);
        assert_eq!(p.rounds, 3);
        assert_eq!(p.utilisation_ppm(), 305_729); // 30.57 %
                                                  // Busy adds 75 gaps of 203.612 µs = 15.27 ms: 167.61 ms / 500 ms.
        assert_eq!(p.busy_ppm(), 336_271);
        // 166.667 ms + 10 µs + 2 × 16 bytes (1.389 ms each).
        assert_eq!(p.command_latency_ns(), 166_666_666 + 10_000 + 2 * 1_388_889);
        assert_eq!(plan(72, T_1HZ, 115_200).utilisation_ppm(), 152_864); // 15.29 %
                                                                         // 120 seats: 4 rounds. Per 500 ms: 4 × 11 + 120 × 24 = 2924 bytes = 253.82 ms = 50.76 %.
        let p = plan(120, T_2HZ, 115_200);
        assert_eq!(p.rounds, 4);
        assert_eq!(p.utilisation_ppm(), 507_639);
        assert_eq!(p.command_latency_ns(), 125_000_000 + 10_000 + 2 * 1_388_889);
        assert_eq!(plan(120, T_1HZ, 115_200).utilisation_ppm(), 253_819);
    }

    #[test]
    fn the_four_configurations_at_460800() {
        // A quarter of the 115200 figures, give or take the rounding of each frame up to 1 ns.
        assert_eq!(plan(72, T_2HZ, 460_800).utilisation_ppm(), 76_432);
        assert_eq!(plan(120, T_2HZ, 460_800).utilisation_ppm(), 126_909);
        assert_eq!(plan(72, T_1HZ, 460_800).utilisation_ppm(), 38_216);
        assert_eq!(plan(120, T_1HZ, 460_800).utilisation_ppm(), 63_454);
    }

    #[test]
    fn command_latency_stays_within_one_telemetry_period() {
        for seats in [72, 120] {
            for period in [T_1HZ, T_2HZ] {
                for baud in [115_200, 460_800] {
                    let p = plan(seats, period, baud);
                    assert!(
                        p.command_latency_ns() < period,
                        "{seats} seats, {period} ns, {baud}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_line_too_full_is_refused() {
        // 577 seats at 10 Hz on 115200: 5770 × 24 bytes a second is 12 s of wire per second.
        assert_eq!(
            Plan::new(1, 577, 100_000_000, 115_200, FrameSizes::MEASURED),
            Err(PlanError::OverCapacity)
        );
        assert_eq!(
            Plan::new(1, 0, T_2HZ, 115_200, FrameSizes::MEASURED),
            Err(PlanError::Empty)
        );
    }

    #[test]
    fn rounds_cover_every_seat_once() {
        let p = plan(120, T_2HZ, 115_200);
        let mut next = p.first_seat;
        for r in 0..p.rounds {
            let (first, count) = p.round(r);
            assert_eq!(first, next);
            assert!(count <= MAX_ROUND_SEATS);
            next = first + count;
        }
        assert_eq!(next, p.first_seat + 120);
    }

    #[test]
    fn seats_take_turns_in_order_and_skip_the_absent() {
        let t = Timing::new(115_200);
        let b = Beacon::new(10, 4);
        let mut s12 = SeatAccess::new(12, t);
        assert_eq!(s12.poll(0), SeatAction::Wait(None), "silent before a beacon");
        s12.on_frame(1_000, Heard::Beacon(b));
        // Seats 10 and 11 come first: gap + 2 slots of silence.
        assert_eq!(
            s12.poll(1_000),
            SeatAction::Wait(Some(1_000 + t.gap_ns + 2 * t.slot_ns))
        );
        s12.on_frame(5_000, Heard::Uplink(10));
        assert_eq!(
            s12.poll(5_000),
            SeatAction::Wait(Some(5_000 + t.gap_ns + t.slot_ns))
        );
        // Seat 11 is absent.
        assert_eq!(s12.poll(5_000 + t.gap_ns + t.slot_ns), SeatAction::Transmit);
        s12.transmitted();
        assert_eq!(s12.poll(u64::MAX), SeatAction::Wait(None), "one turn per beacon");
    }

    #[test]
    fn a_seat_outside_the_round_or_after_garbage_stays_silent() {
        let t = Timing::new(115_200);
        let mut s = SeatAccess::new(40, t);
        s.on_frame(0, Heard::Beacon(Beacon::new(1, 32)));
        assert_eq!(s.poll(u64::MAX), SeatAction::Wait(None));
        s.on_frame(0, Heard::Beacon(Beacon::new(33, 32)));
        s.on_garbage(10);
        assert_eq!(s.poll(u64::MAX), SeatAction::Wait(None));
        s.on_frame(0, Heard::Beacon(Beacon::new(33, 32)));
        s.on_frame(10, Heard::Uplink(41));
        assert_eq!(
            s.poll(u64::MAX),
            SeatAction::Wait(None),
            "a later seat spoke first"
        );
    }

    #[test]
    fn the_host_opens_rounds_on_schedule_after_the_chain() {
        let p = plan(72, T_2HZ, 115_200);
        let mut h = HostScheduler::new(p, 0);
        let HostAction::Open {
            commands,
            beacon,
            round,
        } = h.poll(0, 5)
        else {
            panic!("first round at once")
        };
        assert_eq!((commands, beacon, round), (2, Beacon::new(1, 24), 0));
        h.transmitted(1_000_000);
        assert_eq!(h.poll(2_000_000, 0), HostAction::Wait(p.interval_ns()));
        // A seat's frame late in the interval holds the next opening until the chain is over.
        let late = p.interval_ns() - 1_000;
        h.on_frame(late, Heard::Uplink(24));
        assert_eq!(
            h.poll(p.interval_ns(), 0),
            HostAction::Wait(late + p.timing.gap_ns)
        );
        assert!(matches!(
            h.poll(late + p.timing.gap_ns, 0),
            HostAction::Open {
                beacon: Beacon {
                    first: 25,
                    count: 24,
                    ..
                },
                round: 1,
                ..
            }
        ));
    }

    #[test]
    fn a_host_that_fell_behind_does_not_burst_the_missed_rounds() {
        let p = plan(72, T_2HZ, 115_200);
        let mut h = HostScheduler::new(p, 0);
        assert!(matches!(h.poll(0, 0), HostAction::Open { .. }));
        h.transmitted(1_000_000);
        // The line was down for ten seconds: one opening now, the next a whole interval later.
        let late = 10 * T_1HZ;
        assert!(matches!(h.poll(late, 0), HostAction::Open { .. }));
        h.transmitted(late + 1_000_000);
        assert_eq!(
            h.poll(late + 50_000_000, 0),
            HostAction::Wait(late + 1_000_000 + p.interval_ns())
        );
    }

    #[test]
    fn a_standby_takes_over_after_two_missed_rounds() {
        let p = plan(72, T_2HZ, 115_200);
        let mut w = StandbyWatch::new(&p, 0);
        w.on_beacon(1_000);
        assert!(!w.should_take_over(1_000 + 3 * p.interval_ns() - 1));
        assert!(w.should_take_over(1_000 + 3 * p.interval_ns()));
    }

    #[test]
    fn a_seat_takes_the_jitter_budget_of_the_beacon() {
        let t = Timing::with_jitter(115_200, 2_000_000);
        // (2 096 806 + 2 × 0.01 × 2 183 612) / 0.37 = 5 785 077 ns.
        assert_eq!((t.gap_ns, t.slot_ns), (2_183_612, 5_785_077));
        let mut s = SeatAccess::new(12, Timing::new(115_200));
        let b = Beacon {
            jitter_us: 2_000,
            ..Beacon::new(10, 4)
        };
        s.on_frame(0, Heard::Beacon(b));
        assert_eq!(s.poll(0), SeatAction::Wait(Some(t.gap_ns + 2 * t.slot_ns)));
        // The host planning with the same budget sends it.
        let p = Plan::with_timing(10, 4, T_2HZ, t, FrameSizes::MEASURED).unwrap();
        assert_eq!(HostScheduler::new(p, 0).beacon(0).jitter_us, 2_000);
        // 72 seats at 2 Hz do not fit 115200 baud with 2 ms of jitter.
        assert_eq!(
            Plan::with_timing(1, 72, T_2HZ, t, FrameSizes::MEASURED),
            Err(PlanError::OverCapacity)
        );
    }

    #[test]
    fn turn_content_priorities() {
        assert_eq!(TurnContent::choose(false, true, true, true), TurnContent::Hello);
        assert_eq!(TurnContent::choose(true, true, true, false), TurnContent::Ack);
        assert_eq!(TurnContent::choose(true, false, true, false), TurnContent::Event);
        assert_eq!(
            TurnContent::choose(true, false, false, false),
            TurnContent::Telemetry
        );
        assert_eq!(
            TurnContent::choose(true, true, true, true),
            TurnContent::Telemetry,
            "after a turn without telemetry, telemetry comes first"
        );
    }
}
