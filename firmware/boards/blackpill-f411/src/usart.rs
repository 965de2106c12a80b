//! USART1's interrupt, both directions, so the main loop never waits on the line:
//!
//! - receive: each byte (RXNE) goes into the receive queue (`hemiwatch_firmware::rx`), its line
//!   errors counted in [`RX_ERRORS`];
//! - transmit: frames queued by the main loop (`hemiwatch_firmware::tx::QueueTx`) are sent from
//!   here (`hemiwatch_firmware::tx::on_interrupt`), which also drives the RS-485 driver enable on
//!   PA8: raised before the first byte, dropped at transmission complete (TC, the last stop bit
//!   out) once the queue is empty.
//!
//! Registers from RM0383 §19.6 "USART registers": SR (RXNE bit 5, ORE bit 3, NF bit 2, FE bit 1,
//! TXE bit 7, TC bit 6), DR, CR1 (TXEIE bit 7, TCIE bit 6). After `install`, only the interrupt
//! touches USART1. Shared by the firmware and the on-target tests (`tests/on_target.rs`).

use heapless::spsc::{Consumer, Producer};
use hemiwatch_firmware::rx::{self, LineError, RxCounters};
use hemiwatch_firmware::tx::{self, TxHardware};
use stm32f4xx_hal::gpio::{Output, PushPull, PA8};
use stm32f4xx_hal::pac;

const SR_TXE: u16 = 1 << 7;
const SR_TC: u16 = 1 << 6;
const CR1_TXEIE: u16 = 1 << 7;
const CR1_TCIE: u16 = 1 << 6;

/// The transmitter and its DE pin, owned by the USART1 interrupt.
pub struct Usart1Tx {
    de: PA8<Output<PushPull>>,
}

fn usart() -> &'static pac::usart1::RegisterBlock {
    // SAFETY: USART1's register block is always mapped; this module only touches it from the
    // USART1 interrupt (SR and DR reads, DR writes, CR1's TXEIE/TCIE).
    unsafe { &*pac::USART1::ptr() }
}

impl TxHardware for Usart1Tx {
    fn ready(&mut self) -> bool {
        usart().sr().read().bits() & SR_TXE != 0
    }
    fn write(&mut self, byte: u8) {
        // SAFETY: any byte is a valid DR value.
        usart().dr().write(|w| unsafe { w.bits(u16::from(byte)) });
    }
    fn complete(&mut self) -> bool {
        usart().sr().read().bits() & SR_TC != 0
    }
    fn driver_enable(&mut self, on: bool) {
        if on {
            self.de.set_high();
        } else {
            self.de.set_low();
        }
    }
    fn listen_ready(&mut self, on: bool) {
        set_cr1(CR1_TXEIE, on);
    }
    fn listen_complete(&mut self, on: bool) {
        set_cr1(CR1_TCIE, on);
    }
}

fn set_cr1(bit: u16, on: bool) {
    // SAFETY: read-modify-write of two interrupt-enable bits, from the only writer (see above).
    usart()
        .cr1()
        .modify(|r, w| unsafe { w.bits(if on { r.bits() | bit } else { r.bits() & !bit }) });
}

/// The queues' interrupt ends and the transmitter, once [`install`] put them here.
static mut LINE: Option<(Producer<'static, u8>, Consumer<'static, u8>, Usart1Tx)> = None;

/// Line errors seen by the USART1 interrupt.
pub static RX_ERRORS: RxCounters = RxCounters::new();

/// Hands the receive queue's producer, the transmit queue's consumer and the DE pin (driven low)
/// to the interrupt. Call before unmasking USART1.
pub fn install(rx: Producer<'static, u8>, tx: Consumer<'static, u8>, mut de: PA8<Output<PushPull>>) {
    de.set_low();
    // SAFETY: USART1 is still masked, so nothing else reads `LINE` yet.
    unsafe { *core::ptr::addr_of_mut!(LINE) = Some((rx, tx, Usart1Tx { de })) };
}

/// Runs the USART1 interrupt soon, to start sending what was just queued (`QueueTx`'s kick).
pub fn kick() {
    cortex_m::peripheral::NVIC::pend(pac::Interrupt::USART1);
}

/// The USART1 interrupt's work: count the receive errors and queue the received byte (reading SR
/// then DR clears RXNE and the error flags), then move queued bytes into the transmitter.
pub fn on_interrupt() {
    let sr = usart().sr().read().bits();
    if sr & (1 << 3) != 0 {
        RX_ERRORS.note(LineError::Overrun);
    }
    if sr & (1 << 2) != 0 {
        RX_ERRORS.note(LineError::Noise);
    }
    if sr & (1 << 1) != 0 {
        RX_ERRORS.note(LineError::Framing);
    }
    // SAFETY: only the USART1 interrupt calls this, after `install`.
    let Some((p, c, hw)) = (unsafe { (*core::ptr::addr_of_mut!(LINE)).as_mut() }) else {
        return;
    };
    if sr & (1 << 5 | 1 << 3) != 0 {
        let byte = usart().dr().read().bits() as u8;
        rx::on_byte(p, &RX_ERRORS, byte);
    }
    tx::on_interrupt(c, hw);
}
