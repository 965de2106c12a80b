//! USART1's transmit side: frames are queued by the main loop (`hemiwatch_firmware::tx::QueueTx`)
//! and sent from the USART1 interrupt (`hemiwatch_firmware::tx::on_interrupt`), which also drives
//! the RS-485 driver enable on PA8: raised before the first byte, dropped at transmission complete
//! (TC, the last stop bit out) once the queue is empty. The loop never waits on the wire.
//!
//! Registers from RM0383 §19.6 "USART registers": SR (TXE bit 7, TC bit 6), DR, CR1 (TXEIE
//! bit 7, TCIE bit 6). After `main` unmasks USART1, only the interrupt writes CR1.

use heapless::spsc::Consumer;
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
    // SAFETY: USART1's register block is always mapped; this module only touches its transmit
    // bits (SR read, DR write, CR1's TXEIE/TCIE), from the USART1 interrupt.
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

/// The queue's interrupt end and the transmitter, once `main` put them here (before unmasking).
static mut TX: Option<(Consumer<'static, u8>, Usart1Tx)> = None;

/// Hands the queue's consumer and the DE pin (driven low) to the interrupt. Call before
/// unmasking USART1.
pub fn install(consumer: Consumer<'static, u8>, mut de: PA8<Output<PushPull>>) {
    de.set_low();
    // SAFETY: USART1 is still masked, so nothing else reads `TX` yet.
    unsafe { *core::ptr::addr_of_mut!(TX) = Some((consumer, Usart1Tx { de })) };
}

/// Runs the USART1 interrupt soon, to start sending what was just queued (`QueueTx`'s kick).
pub fn kick() {
    cortex_m::peripheral::NVIC::pend(pac::Interrupt::USART1);
}

/// The interrupt's transmit half.
pub fn on_interrupt() {
    // SAFETY: only the USART1 interrupt calls this, after `install`.
    if let Some((c, hw)) = unsafe { (*core::ptr::addr_of_mut!(TX)).as_mut() } {
        tx::on_interrupt(c, hw);
    }
}
