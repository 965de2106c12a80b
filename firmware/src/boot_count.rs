//! The boot counter: a number kept in flash that grows by one at every boot, mixed into the
//! boot identity so that two boots never share a `boot_id` even when the board's entropy repeats.
//!
//! Why: a seat's `Session` answer is bound to its `boot_id`. The Black Pill draws that id from ADC
//! readings at the shortest sample time and SysTick — entropy nobody measured. If a boot repeated
//! an earlier boot's id, a recorded `Session` and the downlink frames after it (a `Failover`!)
//! would verify again in the new boot. With the counter mixed in ([`boot_identity`]) the id of
//! boot *n + 1* differs from that of boot *n* whatever the noise said, and the replay is refused as
//! a stale session (the test at the bottom replays one).
//!
//! Wear: the counter is a log of 32-bit words in one erased flash area ([`WordFlash`]). Each boot
//! programs the next erased word with the new count; only when the area is full is it erased and
//! the count written again at its start. NOR flash programs a word once per erase, so a 128 KiB
//! sector (32 768 words) is erased once every 32 768 boots — far inside the 10 000 erase cycles
//! the STM32F411 guarantees (datasheet DS10314, "Flash memory endurance"). A power cut during the
//! erase loses the count (it restarts at 1): the board's entropy still differs, and the host's
//! memory of boots ([`hemiwatch_protocol::link`] + the daemon's persisted `Hello`s) does the rest.
//!
//! Boards: the Black Pill programs a real sector through its flash interface; QEMU 7.2 does not
//! emulate the lm3s6965's flash controller (its `flash-control` region at `0x400F_D000` is an
//! unimplemented device and flash is ROM), so on the rig the test harness writes the count for
//! each QEMU start into the provisioning page, and the board only reads it.

use crate::mix32;

/// A word-programmable, area-erasable flash area (NOR semantics: a word can be programmed once
/// after an erase; erased words read [`ERASED`]).
pub trait WordFlash {
    /// Why programming or erasing failed (a time-out, a protection or programming error).
    type Error;
    /// Words in the area.
    fn words(&self) -> usize;
    /// Reads word `index` (< [`Self::words`]).
    fn read(&self, index: usize) -> u32;
    /// Programs word `index`, which must be erased.
    fn program(&mut self, index: usize, value: u32) -> Result<(), Self::Error>;
    /// Erases the whole area.
    fn erase(&mut self) -> Result<(), Self::Error>;
}

/// What an erased flash word reads.
pub const ERASED: u32 = 0xFFFF_FFFF;

/// Finds the last count in `flash` (0 if none), programs count + 1 after it and returns it.
///
/// The log is the programmed words from the start of the area, in order; the first erased word
/// ends it. A word that does not continue the log (a torn write) ends it too, and the next boot
/// starts after it with a count above every one seen.
pub fn advance<F: WordFlash>(flash: &mut F) -> Result<u32, F::Error> {
    let n = flash.words();
    let (mut last, mut used) = (0u32, 0usize);
    while used < n {
        let w = flash.read(used);
        if w == ERASED {
            break;
        }
        last = last.max(w);
        used += 1;
    }
    let next = last.wrapping_add(1).clamp(1, ERASED - 1);
    if used >= n {
        flash.erase()?;
        used = 0;
    }
    flash.program(used, next)?;
    Ok(next)
}

/// The boot identity sent in `Hello`: the board's entropy (`seed`) mixed with the boot counter,
/// so that a repeated seed in a later boot still gives another id.
pub const fn boot_identity(seed: u32, boot_count: u32) -> u32 {
    mix32(mix32(seed, 0x4243_4E54), boot_count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hemiwatch_protocol::{AuthError, BoardKind};
    use hemiwatch_protocol::{
        Failover, FrameDecoder, Hello, HostLink, Message, OwnedFrame, SeatKey, SeatLink, MAX_WIRE,
    };

    /// NOR flash in RAM: a word programs once per erase, and programming can only clear bits.
    struct Nor {
        words: std::vec::Vec<u32>,
        erases: u32,
    }

    impl WordFlash for Nor {
        type Error = &'static str;
        fn words(&self) -> usize {
            self.words.len()
        }
        fn read(&self, i: usize) -> u32 {
            self.words[i]
        }
        fn program(&mut self, i: usize, v: u32) -> Result<(), Self::Error> {
            if self.words[i] != ERASED {
                return Err("programming a word that is not erased");
            }
            self.words[i] &= v;
            Ok(())
        }
        fn erase(&mut self) -> Result<(), Self::Error> {
            self.words.iter_mut().for_each(|w| *w = ERASED);
            self.erases += 1;
            Ok(())
        }
    }

    #[test]
    fn the_count_grows_at_every_boot_and_the_area_is_erased_only_when_full() {
        let mut f = Nor {
            words: vec![ERASED; 8],
            erases: 0,
        };
        let counts: std::vec::Vec<u32> = (0..20).map(|_| advance(&mut f).unwrap()).collect();
        assert_eq!(counts, (1..=20).collect::<std::vec::Vec<_>>());
        assert_eq!(f.erases, 2, "8 boots per erase");
        // A torn write (a half-programmed word) never makes the count go back.
        f.words[5] = 3;
        let next = advance(&mut f).unwrap();
        assert!(next > 20, "{next}");
    }

    fn hello() -> Message {
        Message::Hello(Hello {
            board: BoardKind::BlackPillF411,
            ..Hello::simulated(500)
        })
    }

    fn frames(wire: &[u8]) -> std::vec::Vec<OwnedFrame> {
        let mut dec = FrameDecoder::<MAX_WIRE>::new();
        let mut v = std::vec::Vec::new();
        dec.feed(wire, |r| v.push(r.unwrap().to_owned()));
        v
    }

    /// Boots a seat with `boot_id`, lets the host open a session and order a failover; returns
    /// what an attacker recorded on the downlink: the `Session` and the `Failover`.
    fn record_session_and_failover(key: &SeatKey, boot_id: u32) -> (OwnedFrame, OwnedFrame) {
        let mut seat = SeatLink::new(3, key, boot_id);
        let mut host = HostLink::new(3, Some(key));
        let mut buf = [0u8; MAX_WIRE];
        let mut out = [0u8; MAX_WIRE];
        let h = frames(seat.encode(&hello(), &mut buf).unwrap()).remove(0);
        let Message::Hello(hello) = host.accept(&h.as_raw()).unwrap().message else {
            panic!()
        };
        let session = frames(host.respond_to_hello(&hello, 0xDEAD_BEEF, &mut out).unwrap()).remove(0);
        seat.accept(&session.as_raw()).unwrap();
        let t = frames(
            seat.encode(&Message::Telemetry(Default::default()), &mut buf)
                .unwrap(),
        )
        .remove(0);
        host.accept(&t.as_raw()).unwrap();
        let (_, wire) = host
            .encode(&Message::Failover(Failover { active: true }), &mut out)
            .unwrap();
        let failover = frames(wire).remove(0);
        assert!(matches!(
            seat.accept(&failover.as_raw()),
            Ok((_, Message::Failover(_)))
        ));
        (session, failover)
    }

    /// Item 4 of issue 12: the board's entropy repeats (same seed) across a reboot. Without the
    /// counter the recorded `Session` and `Failover` verify in the new boot — the attack; with it
    /// they are refused.
    #[test]
    fn a_repeated_seed_cannot_replay_a_recorded_session_and_failover() {
        let key = SeatKey([0x42; 16]);
        let seed = 0x1234_5678;
        let mut flash = Nor {
            words: vec![ERASED; 64],
            erases: 0,
        };
        let first = boot_identity(seed, advance(&mut flash).unwrap());
        let (session, failover) = record_session_and_failover(&key, first);

        // The attack, as it stood: the same id in the next boot takes both frames.
        let mut same = SeatLink::new(3, &key, first);
        let mut buf = [0u8; MAX_WIRE];
        same.encode(&hello(), &mut buf).unwrap();
        assert!(same.accept(&session.as_raw()).is_ok());
        assert!(matches!(
            same.accept(&failover.as_raw()),
            Ok((_, Message::Failover(_)))
        ));

        // The next boot draws the same seed, but its count is one more.
        let second = boot_identity(seed, advance(&mut flash).unwrap());
        assert_ne!(second, first, "a repeated seed must still give a new boot id");
        let mut rebooted = SeatLink::new(3, &key, second);
        rebooted.encode(&hello(), &mut buf).unwrap();
        assert_eq!(
            rebooted.accept(&session.as_raw()),
            Err(AuthError::StaleSession),
            "the recorded Session is bound to the earlier boot"
        );
        assert_eq!(
            rebooted.accept(&failover.as_raw()),
            Err(AuthError::NoSession),
            "no session: the recorded Failover cannot be verified"
        );
        assert!(!rebooted.has_session());
    }
}
