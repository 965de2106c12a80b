//! Evidence of a crash that survives the reset it ends in.
//!
//! A panic or a HardFault leaves its location in a [`CrashRecord`] that the board keeps in RAM
//! the start-up code does not initialise (`.uninit`), then resets the chip at once — no waiting
//! for the watchdog with the load in an unknown state. The next boot takes the record: a valid
//! one (magic and CRC-32 intact; power-up leaves random bits, which fail the check) makes that
//! boot's `Hello` say `ResetCause::Panic` and its log say where.
//!
//! Every field is an integer or a byte array, so any bit pattern is a valid record: reading
//! uninitialised RAM through it is sound, and [`CrashRecord::take`] decides what it is worth.

use crc::{Crc, CRC_32_ISO_HDLC};

/// Marks a written record ("CRSH"); the CRC covers the rest.
const MAGIC: u32 = 0x4352_5348;
/// Bytes of the source path kept: its end, where the file name is.
pub const FILE_LEN: usize = 40;
const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// What crashed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CrashKind {
    /// A Rust panic: `line` is the source line, `file` the source path's end.
    Panic,
    /// A HardFault: `line` is the faulting PC.
    HardFault,
}

/// The record as it lies in RAM (see the module docs).
#[derive(Copy, Clone, Debug)]
#[repr(C)]
pub struct CrashRecord {
    magic: u32,
    kind: u32,
    line: u32,
    file_len: u32,
    file: [u8; FILE_LEN],
    crc: u32,
}

/// A crash taken from a valid record.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Crash {
    /// Panic or HardFault.
    pub kind: CrashKind,
    /// Source line (panic) or PC (HardFault).
    pub line: u32,
    file: [u8; FILE_LEN],
    file_len: usize,
}

impl Crash {
    /// The detail of the `CRASHED` event the seat sends once a host listens: the panic's line
    /// (saturated), 0 for a HardFault (a PC does not fit; it is in the log).
    pub fn event_detail(&self) -> i16 {
        match self.kind {
            CrashKind::Panic => i16::try_from(self.line).unwrap_or(i16::MAX),
            CrashKind::HardFault => 0,
        }
    }

    /// The end of the source path (empty for a HardFault).
    pub fn file(&self) -> &str {
        let bytes = self.file.get(..self.file_len).unwrap_or(&[]);
        // The record was cut at a byte boundary that may split a character: keep what is valid.
        match core::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or(&[])).unwrap_or(""),
        }
    }
}

impl CrashRecord {
    /// An empty (invalid) record, e.g. for a test.
    pub const fn empty() -> Self {
        Self {
            magic: 0,
            kind: 0,
            line: 0,
            file_len: 0,
            file: [0; FILE_LEN],
            crc: 0,
        }
    }

    /// Writes a crash: the last [`FILE_LEN`] bytes of `file`, `line`, then magic and CRC.
    pub fn record(&mut self, kind: CrashKind, file: &str, line: u32) {
        let bytes = file.as_bytes();
        let tail = bytes.get(bytes.len().saturating_sub(FILE_LEN)..).unwrap_or(&[]);
        self.file = [0; FILE_LEN];
        if let Some(dst) = self.file.get_mut(..tail.len()) {
            dst.copy_from_slice(tail);
        }
        self.file_len = tail.len() as u32;
        self.kind = match kind {
            CrashKind::Panic => 1,
            CrashKind::HardFault => 2,
        };
        self.line = line;
        self.magic = MAGIC;
        self.crc = self.checksum();
    }

    /// The crash this record holds, if it is a valid one; clears it either way, so the next
    /// boot reports only its own cause.
    pub fn take(&mut self) -> Option<Crash> {
        let valid = self.magic == MAGIC && self.crc == self.checksum();
        self.magic = 0;
        if !valid {
            return None;
        }
        let kind = match self.kind {
            1 => CrashKind::Panic,
            2 => CrashKind::HardFault,
            _ => return None,
        };
        Some(Crash {
            kind,
            line: self.line,
            file: self.file,
            file_len: (self.file_len as usize).min(FILE_LEN),
        })
    }

    fn checksum(&self) -> u32 {
        let mut d = CRC32.digest();
        d.update(&self.magic.to_le_bytes());
        d.update(&self.kind.to_le_bytes());
        d.update(&self.line.to_le_bytes());
        d.update(&self.file_len.to_le_bytes());
        d.update(&self.file);
        d.finalize()
    }
}

/// Defines a board's crash handling, the same on every Cortex-M board: the [`CrashRecord`] in
/// `.uninit` RAM, `take_crash()` for the boot (it logs where the last boot crashed), and the
/// panic and HardFault handlers that record the location and reset at once. A macro because the
/// handlers must live in the board crate (they need `cortex-m`, `cortex-m-rt` and the board's
/// `defmt` logger, which this core does not depend on); invoke it once at the board's top level.
#[macro_export]
macro_rules! crash_handlers {
    () => {
        /// The crash record (see [`hemiwatch_firmware::crash`]); `.uninit` is not zeroed at boot.
        #[link_section = ".uninit.CRASH"]
        static mut CRASH: core::mem::MaybeUninit<$crate::crash::CrashRecord> =
            core::mem::MaybeUninit::uninit();

        /// The crash record in RAM.
        ///
        /// # Safety
        /// Only one reference may live at a time: taken once at boot (before interrupts), and by
        /// the panic / HardFault handlers, which never return.
        unsafe fn crash_record() -> &'static mut $crate::crash::CrashRecord {
            // SAFETY: every bit pattern is a valid `CrashRecord` (integers and bytes only).
            unsafe { &mut *core::ptr::addr_of_mut!(CRASH).cast::<$crate::crash::CrashRecord>() }
        }

        /// A crash from the last boot, logged where it happened.
        fn take_crash() -> Option<$crate::crash::Crash> {
            // SAFETY: at boot, before any handler that could take it.
            let crash = unsafe { crash_record() }.take()?;
            defmt::error!(
                "last boot crashed: {} at {=str}:{=u32:#x}",
                crash.kind,
                crash.file(),
                crash.line
            );
            Some(crash)
        }

        /// Records where it panicked and resets at once: the next `Hello` says `Panic`.
        #[panic_handler]
        fn panic(info: &core::panic::PanicInfo) -> ! {
            let (file, line) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
            // SAFETY: the handler never returns; nothing else holds the record now.
            unsafe { crash_record() }.record($crate::crash::CrashKind::Panic, file, line);
            // The message only when it is a plain string: formatting its arguments would link
            // `core::fmt` (about 2 KiB of flash) into a seat that has no other use for it.
            let message = info
                .message()
                .as_str()
                .unwrap_or("(message with arguments)");
            defmt::error!("panic at {=str}:{=u32}: {=str}", file, line, message);
            cortex_m::peripheral::SCB::sys_reset()
        }

        /// Records the faulting PC and resets at once, like a panic.
        #[cortex_m_rt::exception]
        unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
            // SAFETY: the handler never returns; nothing else holds the record now.
            unsafe { crash_record() }.record($crate::crash::CrashKind::HardFault, "", frame.pc());
            cortex_m::peripheral::SCB::sys_reset()
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_panic_is_taken_once_with_its_location() {
        let mut r = CrashRecord::empty();
        r.record(CrashKind::Panic, "firmware/src/seat.rs", 321);
        let c = r.take().expect("valid");
        assert_eq!(
            (c.kind, c.line, c.file()),
            (CrashKind::Panic, 321, "firmware/src/seat.rs")
        );
        assert_eq!(r.take(), None, "taken: the next boot is clean");
    }

    #[test]
    fn a_long_path_keeps_its_end_and_a_hardfault_its_pc() {
        let mut r = CrashRecord::empty();
        let long = "/home/ci/.cargo/registry/src/index.crates.io/some-crate-1.2.3/src/deep/module.rs";
        r.record(CrashKind::Panic, long, 7);
        let c = r.take().unwrap();
        assert_eq!(c.file().len(), FILE_LEN);
        assert!(long.ends_with(c.file()));
        r.record(CrashKind::HardFault, "", 0x0800_1234);
        let c = r.take().unwrap();
        assert_eq!(
            (c.kind, c.line, c.file()),
            (CrashKind::HardFault, 0x0800_1234, "")
        );
    }

    #[test]
    fn power_up_garbage_and_a_corrupted_record_are_no_crash() {
        assert_eq!(CrashRecord::empty().take(), None);
        let mut r = CrashRecord::empty();
        r.record(CrashKind::Panic, "a.rs", 1);
        r.line = 2; // one bit flipped by a brown-out
        assert_eq!(r.take(), None);
        // Random RAM: the magic may even match by chance, the CRC does not.
        let mut seed = 0x1234_5678u32;
        for _ in 0..1000 {
            let mut next = || {
                seed = crate::mix32(seed, 1);
                seed
            };
            let mut g = CrashRecord {
                magic: MAGIC,
                kind: next() % 3,
                line: next(),
                file_len: next(),
                file: [next() as u8; FILE_LEN],
                crc: next(),
            };
            assert_eq!(g.take(), None);
        }
    }
}
