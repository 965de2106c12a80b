//! On-target tests of the Black Pill seat board (`embedded-test`, run by `probe-rs run` on a real
//! STM32F411; see `firmware/README.md` "On-target tests"). They exercise on silicon what the host
//! tests can only model: the board's own modules (`usart.rs`, `i2c.rs`, `adc.rs`) are compiled
//! in here from `src/`, so the code under test is the firmware's.
//!
//! Rig: a Black Pill with **PA9 (TX) wired to PA10 (RX)** (no transceiver, or one with DE/RE on
//! PA8 and its A/B idle), PB12 free (the test enables its internal pull-up), I2C1 (PB6/PB7) with
//! its 4.7 kΩ pull-ups and **no** TMP105 fitted. Each test runs after a reset of the chip.

#![no_std]
#![no_main]

#[allow(dead_code)]
#[path = "../src/adc.rs"]
mod adc;
#[allow(dead_code)]
#[path = "../src/i2c.rs"]
mod i2c;
#[allow(dead_code)]
#[path = "../src/usart.rs"]
mod usart;

use defmt_rtt as _;
use stm32f4xx_hal::interrupt;

/// Both directions of the line, as in the firmware.
#[interrupt]
fn USART1() {
    usart::on_interrupt();
}

#[embedded_test::tests]
mod tests {
    use cortex_m::peripheral::DWT;
    use embedded_io::{Read, ReadReady, Write};
    use heapless::spsc::Queue;
    use hemiwatch_firmware::i2c_bus::Recovering;
    use hemiwatch_firmware::rx::{self, QueueRx, RxErrors};
    use hemiwatch_firmware::tmp105::{Tmp105, DEFAULT_ADDRESS};
    use hemiwatch_firmware::tx::{self, QueueTx};
    use stm32f4xx_hal::adc::config::AdcConfig;
    use stm32f4xx_hal::adc::Adc;
    use stm32f4xx_hal::gpio::PinState;
    use stm32f4xx_hal::pac;
    use stm32f4xx_hal::prelude::*;
    use stm32f4xx_hal::rcc::{Config, Rcc};
    use stm32f4xx_hal::serial::{self, Serial};

    use super::{adc, i2c, usart};

    /// Core clock of the tests: 96 MHz from the HSI (no dependence on the crystal).
    const SYSCLK_HZ: u32 = 96_000_000;
    /// One byte at 115200 baud, in core cycles (10 bits).
    const BYTE_CYCLES: u32 = SYSCLK_HZ / 11_520;

    struct Board {
        dp: Option<pac::Peripherals>,
        rcc: Rcc,
    }

    #[init]
    fn init() -> Board {
        let mut cp = cortex_m::Peripherals::take().unwrap();
        cp.DCB.enable_trace();
        cp.DWT.enable_cycle_counter();
        let dp = pac::Peripherals::take().unwrap();
        // SAFETY: RCC is moved into `freeze` right away; the test keeps no other handle.
        let rcc = unsafe { pac::Peripherals::steal() }
            .RCC
            .freeze(Config::hsi().sysclk(SYSCLK_HZ.Hz()));
        Board { dp: Some(dp), rcc }
    }

    /// USART1 at 115200 with both queues and the interrupt, as the firmware sets it up; returns
    /// the loop's ends.
    fn line(b: &mut Board) -> (QueueRx<'static>, QueueTx<'static>) {
        let dp = b.dp.take().unwrap();
        let gpioa = dp.GPIOA.split(&mut b.rcc);
        let mut serial: Serial<pac::USART1> = dp
            .USART1
            .serial(
                (gpioa.pa9, gpioa.pa10),
                serial::Config::default().baudrate(115_200.bps()),
                &mut b.rcc,
            )
            .unwrap();
        let de = gpioa.pa8.into_push_pull_output_in_state(PinState::Low);
        let rxq = cortex_m::singleton!(: Queue<u8, { rx::QUEUE_LEN + 1 }> = Queue::new()).unwrap();
        let txq = cortex_m::singleton!(: Queue<u8, { tx::QUEUE_LEN + 1 }> = Queue::new()).unwrap();
        let (rp, rc) = rxq.split();
        let (tp, tc) = txq.split();
        usart::install(rp, tc, de);
        serial.listen(serial::Event::RxNotEmpty);
        // `serial` goes out of scope here (it has no `Drop`): its registers are the interrupt's.
        // SAFETY: the handler only touches USART1, the queues' interrupt ends, DE and counters.
        unsafe { cortex_m::peripheral::NVIC::unmask(pac::Interrupt::USART1) };
        (QueueRx::new(rc), QueueTx::new(tp, usart::kick))
    }

    fn gpioa_odr_bit(n: u32) -> bool {
        // SAFETY: a read of GPIOA's output data register.
        unsafe { &*pac::GPIOA::ptr() }.odr().read().bits() & (1 << n) != 0
    }

    /// Item 3: three frames (180 bytes, 15.6 ms of line) written while the loop then stays busy
    /// for 25 ms without reading: the writes return at once, and every byte comes back through
    /// the loop-back wire in order, with no line error and nothing dropped.
    #[test]
    fn a_looped_line_at_full_rate_arrives_whole_while_the_loop_is_busy(mut b: Board) {
        let (mut rx, mut txp) = line(&mut b);
        let mut sent = [0u8; 180];
        for (i, x) in sent.iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(37).wrapping_add(5);
        }
        for frame in sent.chunks(60) {
            let t0 = DWT::cycle_count();
            txp.write_all(frame).unwrap();
            let took = DWT::cycle_count().wrapping_sub(t0);
            assert!(took < BYTE_CYCLES, "a write waited on the wire: {} cycles", took);
        }
        // The loop's worst pass and more, without reading.
        cortex_m::asm::delay(SYSCLK_HZ / 40);
        let mut got = [0u8; 180];
        let mut n = 0;
        while rx.read_ready().unwrap() && n < got.len() {
            n += rx.read(&mut got[n..]).unwrap();
        }
        assert_eq!(n, sent.len(), "bytes back through the loop");
        assert_eq!(got, sent);
        assert_eq!(usart::RX_ERRORS.snapshot(), RxErrors::default());
    }

    /// Item 4: DE (PA8) is up while a frame is queued and sent, and drops only once TC says the
    /// last stop bit is out — never before 19 byte times of a 20-byte frame.
    #[test]
    fn de_is_up_while_sending_and_drops_only_at_transmission_complete(mut b: Board) {
        let (_rx, mut txp) = line(&mut b);
        let t0 = DWT::cycle_count();
        txp.write_all(&[0x55; 20]).unwrap();
        cortex_m::asm::delay(BYTE_CYCLES / 4);
        assert!(gpioa_odr_bit(8), "DE up within a quarter byte of the write");
        let mut dropped = None;
        for _ in 0..1_000_000u32 {
            if !gpioa_odr_bit(8) {
                dropped = Some(DWT::cycle_count().wrapping_sub(t0));
                break;
            }
        }
        let cycles = dropped.expect("DE dropped within the bound");
        // SAFETY: a read of USART1's status register.
        let sr = unsafe { &*pac::USART1::ptr() }.sr().read().bits();
        assert!(sr & (1 << 6) != 0, "TC set when DE dropped");
        assert!(cycles >= 19 * BYTE_CYCLES, "DE dropped after {} cycles", cycles);
        assert!(cycles <= 22 * BYTE_CYCLES, "DE held {} cycles", cycles);
    }

    /// Item 5: with no sensor on the bus every read fails (a NACK, not a hang) within a bound,
    /// each failure followed by a bus clear and a peripheral reset, and the next read is again
    /// a clean failure.
    #[test]
    fn an_absent_sensor_fails_fast_and_the_bus_is_cleared_each_time(mut b: Board) {
        let dp = b.dp.take().unwrap();
        let gpiob = dp.GPIOB.split(&mut b.rcc);
        let bus = Recovering::new(i2c::I2c1Bus::new(dp.I2C1, gpiob.pb6, gpiob.pb7, &mut b.rcc));
        let mut sensor = Tmp105::new(bus, DEFAULT_ADDRESS);
        for _ in 0..3 {
            let t0 = DWT::cycle_count();
            assert!(sensor.read_centi().is_err(), "no sensor fitted, yet a reading");
            let ms = DWT::cycle_count().wrapping_sub(t0) / (SYSCLK_HZ / 1_000);
            assert!(ms < 20, "a failed read took {} ms", ms);
        }
    }

    /// Item 5, held bus: needs SDA (PB7) tied to GND through a jumper. The bus clear's 9 SCL
    /// pulses cannot free it: the read still fails in bounded time. Ignored unless run by hand.
    #[test]
    #[ignore]
    fn a_held_sda_fails_in_bounded_time(mut b: Board) {
        let dp = b.dp.take().unwrap();
        let gpiob = dp.GPIOB.split(&mut b.rcc);
        let mut bus = i2c::I2c1Bus::new(dp.I2C1, gpiob.pb6, gpiob.pb7, &mut b.rcc);
        let t0 = DWT::cycle_count();
        assert!(hemiwatch_firmware::i2c_bus::BusRecovery::recover(&mut bus).is_err());
        let ms = DWT::cycle_count().wrapping_sub(t0) / (SYSCLK_HZ / 1_000);
        assert!(ms < 5, "bus clear took {} ms", ms);
    }

    /// Item 7: the load-cut line (PB12, open drain) pulls low when cutting and is released to its
    /// pull-up otherwise (the internal one here; 10 kΩ on the board).
    #[test]
    fn the_load_cut_line_pulls_low_and_releases(mut b: Board) {
        let dp = b.dp.take().unwrap();
        let gpiob = dp.GPIOB.split(&mut b.rcc);
        let mut cut = gpiob.pb12.into_open_drain_output_in_state(PinState::High);
        cut.set_internal_resistor(stm32f4xx_hal::gpio::Pull::Up);
        cortex_m::asm::delay(1_000);
        assert!(cut.is_high(), "released: the pull-up holds the load on");
        cut.set_low();
        cortex_m::asm::delay(100);
        assert!(cut.is_low(), "cut");
        cut.set_high();
        cortex_m::asm::delay(1_000);
        assert!(cut.is_high(), "released again");
    }

    /// Item 8: VDDA from VREFINT and its calibration is a 3.3 V rail within the regulator's
    /// tolerance, and the die reads a bench temperature (loosely: uncalibrated, see `analog.rs`).
    #[test]
    fn vdda_and_the_die_read_plausibly(mut b: Board) {
        let dp = b.dp.take().unwrap();
        let mut analog = adc::Analog::new(Adc::new(dp.ADC1, true, AdcConfig::default(), &mut b.rcc));
        let r = analog.read();
        let mv = r.supply_mv.expect("a supply reading");
        assert!((3_100..=3_500).contains(&mv), "VDDA {} mV", mv);
        let die = r.die_centi.expect("a die reading");
        assert!((-1_000..=8_500).contains(&die), "die {} centi-°C", die);
    }
}
