//! Behaviour of the authenticated link: handshake, counters, replays, reboots, forgeries.
mod common;
use common::*;
use hemiwatch_protocol::*;

fn telemetry_wire(seat: &mut SeatLink) -> Vec<u8> {
    let mut buf = [0u8; MAX_WIRE];
    seat.encode(&Message::Telemetry(telemetry()), &mut buf)
        .unwrap()
        .to_vec()
}

#[test]
fn only_hello_can_be_sent_before_the_host_answers() {
    let mut seat = SeatLink::new(SEAT, &KEY, 1);
    let mut buf = [0u8; MAX_WIRE];
    assert_eq!(
        seat.encode(&Message::Telemetry(telemetry()), &mut buf)
            .unwrap_err(),
        EncodeError::NoSession
    );
    assert!(seat.encode(&Message::Hello(hello()), &mut buf).is_ok());
    assert_eq!(
        seat.encode(&Message::Ping(Ping {}), &mut buf).unwrap_err(),
        EncodeError::WrongDirection
    );
}

#[test]
fn first_frame_under_the_new_session_establishes_it() {
    let (mut seat, mut host) = open_session(7, 99);
    assert!(!host.has_session(), "answered but not yet confirmed");
    let v = host_accept(&mut host, &telemetry_wire(&mut seat)).unwrap();
    assert_eq!(
        v.session,
        SessionChange::Established {
            boot_id: 7,
            new_boot: true
        }
    );
    assert!(host.has_session());
    let v = host_accept(&mut host, &telemetry_wire(&mut seat)).unwrap();
    assert_eq!(v.session, SessionChange::None);
    assert_eq!(v.counter, 2);
}

#[test]
fn a_replayed_frame_is_rejected_as_replay() {
    let (mut seat, mut host) = open_session(7, 99);
    let first = telemetry_wire(&mut seat);
    host_accept(&mut host, &first).unwrap();
    let second = telemetry_wire(&mut seat);
    host_accept(&mut host, &second).unwrap();
    assert_eq!(host_accept(&mut host, &first).unwrap_err(), AuthError::Replay);
    assert_eq!(host_accept(&mut host, &second).unwrap_err(), AuthError::Replay);
}

#[test]
fn frames_from_before_a_reboot_fail_anti_replay() {
    let (mut seat, mut host) = open_session(7, 99);
    let captured: Vec<_> = (0..5).map(|_| telemetry_wire(&mut seat)).collect();
    for w in &captured {
        host_accept(&mut host, w).unwrap();
    }
    // Reboot: same key, new boot id, counters start again from zero.
    let mut rebooted = SeatLink::new(SEAT, &KEY, 8);
    let mut buf = [0u8; MAX_WIRE];
    let hello_wire = rebooted
        .encode(&Message::Hello(hello()), &mut buf)
        .unwrap()
        .to_vec();
    let Message::Hello(h) = host_accept(&mut host, &hello_wire).unwrap().message else {
        panic!()
    };
    let answer = host.respond_to_hello(&h, 1234, &mut buf).unwrap().to_vec();
    seat_accept(&mut rebooted, &answer).unwrap();
    let v = host_accept(&mut host, &telemetry_wire(&mut rebooted)).unwrap();
    assert_eq!(
        v.session,
        SessionChange::Established {
            boot_id: 8,
            new_boot: true
        }
    );
    for w in &captured {
        assert_eq!(host_accept(&mut host, w).unwrap_err(), AuthError::Replay);
    }
    // The old hello too.
    let mut old = SeatLink::new(SEAT, &KEY, 7);
    let old_hello = old.encode(&Message::Hello(hello()), &mut buf).unwrap().to_vec();
    assert_eq!(host_accept(&mut host, &old_hello).unwrap_err(), AuthError::Replay);
}

#[test]
fn a_replayed_hello_cannot_move_the_session() {
    let (mut seat, mut host) = open_session(7, 99);
    host_accept(&mut host, &telemetry_wire(&mut seat)).unwrap();
    // The attacker replays the boot's first hello: rejected, the session stays.
    let mut twin = SeatLink::new(SEAT, &KEY, 7);
    let mut buf = [0u8; MAX_WIRE];
    let replayed = twin.encode(&Message::Hello(hello()), &mut buf).unwrap().to_vec();
    assert_eq!(host_accept(&mut host, &replayed).unwrap_err(), AuthError::Replay);
    assert!(host_accept(&mut host, &telemetry_wire(&mut seat)).is_ok());
}

#[test]
fn a_replayed_session_answer_is_ignored_by_the_seat() {
    let mut seat = SeatLink::new(SEAT, &KEY, 7);
    let mut host = HostLink::new(SEAT, Some(&KEY));
    let mut buf = [0u8; MAX_WIRE];
    let h1 = seat.encode(&Message::Hello(hello()), &mut buf).unwrap().to_vec();
    let Message::Hello(h1) = host_accept(&mut host, &h1).unwrap().message else {
        panic!()
    };
    let s1 = host.respond_to_hello(&h1, 1, &mut buf).unwrap().to_vec();
    seat_accept(&mut seat, &s1).unwrap();
    let h2 = seat.encode(&Message::Hello(hello()), &mut buf).unwrap().to_vec();
    let Message::Hello(h2) = host_accept(&mut host, &h2).unwrap().message else {
        panic!()
    };
    let s2 = host.respond_to_hello(&h2, 2, &mut buf).unwrap().to_vec();
    seat_accept(&mut seat, &s2).unwrap();
    assert_eq!(seat_accept(&mut seat, &s1).unwrap_err(), AuthError::Replay);
    // A session for another boot is stale.
    let mut other = SeatLink::new(SEAT, &KEY, 99);
    let mut other_host = HostLink::new(SEAT, Some(&KEY));
    let oh = other.encode(&Message::Hello(hello()), &mut buf).unwrap().to_vec();
    let Message::Hello(oh) = host_accept(&mut other_host, &oh).unwrap().message else {
        panic!()
    };
    let foreign = other_host.respond_to_hello(&oh, 3, &mut buf).unwrap().to_vec();
    assert_eq!(
        seat_accept(&mut seat, &foreign).unwrap_err(),
        AuthError::StaleSession
    );
}

#[test]
fn lost_frames_are_bridged_by_counter_reconstruction() {
    let (mut seat, mut host) = open_session(7, 99);
    host_accept(&mut host, &telemetry_wire(&mut seat)).unwrap();
    for _ in 0..200 {
        telemetry_wire(&mut seat); // lost on the line
    }
    let v = host_accept(&mut host, &telemetry_wire(&mut seat)).unwrap();
    assert_eq!(v.counter, 202);
}

/// Opens a session for `seat` against a host that holds the same (wrong) key.
fn open_session_with(seat: &mut SeatLink) -> (SeatLink, HostLink) {
    let mut host = HostLink::new(SEAT, Some(&OTHER_KEY));
    let mut buf = [0u8; MAX_WIRE];
    let w = seat.encode(&Message::Hello(hello()), &mut buf).unwrap().to_vec();
    let Message::Hello(h) = host_accept(&mut host, &w).unwrap().message else {
        panic!()
    };
    let answer = host.respond_to_hello(&h, 5, &mut buf).unwrap().to_vec();
    seat_accept(seat, &answer).unwrap();
    (seat.clone(), host)
}

#[test]
fn a_frame_maced_with_another_key_is_a_bad_mac() {
    let (mut seat, mut host) = open_session(7, 99);
    host_accept(&mut host, &telemetry_wire(&mut seat)).unwrap();
    // Masquerade: a seat with the wrong key claims this seat's address.
    let mut impostor = SeatLink::new(SEAT, &OTHER_KEY, 7);
    let mut buf = [0u8; MAX_WIRE];
    let forged_hello = impostor
        .encode(&Message::Hello(hello()), &mut buf)
        .unwrap()
        .to_vec();
    assert_eq!(
        host_accept(&mut host, &forged_hello).unwrap_err(),
        AuthError::BadMac
    );
    // Its telemetry, even with the right counter, does not verify either.
    impostor = SeatLink::new(SEAT, &OTHER_KEY, 7);
    let (mut impostor_session, _) = open_session_with(&mut impostor);
    let forged = telemetry_wire(&mut impostor_session);
    assert_eq!(host_accept(&mut host, &forged).unwrap_err(), AuthError::BadMac);
    assert!(
        host_accept(&mut host, &telemetry_wire(&mut seat)).is_ok(),
        "the real seat is undisturbed"
    );
}

#[test]
fn unauthenticated_frames_are_refused_for_keyed_seats() {
    let mut host = HostLink::new(SEAT, Some(&KEY));
    let mut buf = [0u8; MAX_WIRE];
    let wire = encode_unauthenticated(SEAT, 0, &Message::Telemetry(telemetry()), &mut buf)
        .unwrap()
        .to_vec();
    assert_eq!(
        host_accept(&mut host, &wire).unwrap_err(),
        AuthError::Unauthenticated
    );
    let mut open = HostLink::new(SEAT, None);
    assert!(host_accept(&mut open, &wire).is_ok());
}

#[test]
fn frames_for_other_seats_and_echoes_are_refused() {
    let (mut seat, mut host) = open_session(7, 99);
    let mut other_host = HostLink::new(SEAT + 1, Some(&KEY));
    let t = telemetry_wire(&mut seat);
    assert_eq!(
        host_accept(&mut other_host, &t).unwrap_err(),
        AuthError::OtherSeat
    );
    host_accept(&mut host, &t).unwrap();
    let mut buf = [0u8; MAX_WIRE];
    let (_, cmd) = host
        .encode(&Message::Failover(Failover { active: true }), &mut buf)
        .unwrap();
    let cmd = cmd.to_vec();
    // An RS-485 echo of the host's own command must not be taken as an uplink frame.
    assert_eq!(
        host_accept(&mut host, &cmd).unwrap_err(),
        AuthError::WrongDirection
    );
    let (counter, msg) = seat_accept(&mut seat, &cmd).unwrap();
    assert_eq!((counter, msg), (1, Message::Failover(Failover { active: true })));
    assert_eq!(seat_accept(&mut seat, &cmd).unwrap_err(), AuthError::Replay);
}

#[test]
fn commands_need_an_open_session() {
    let mut host = HostLink::new(SEAT, Some(&KEY));
    let mut buf = [0u8; MAX_WIRE];
    assert_eq!(
        host.encode(&Message::Ping(Ping {}), &mut buf).unwrap_err(),
        EncodeError::NoSession
    );
    assert_eq!(
        host.encode(&Message::Telemetry(telemetry()), &mut buf)
            .unwrap_err(),
        EncodeError::WrongDirection
    );
}
