//! Tests of the delivery decisions: window, pace, acks, retries, timeouts, lost connections.

use super::*;

fn ack(frame_id: Uuid, outcome: AckOutcome, retry_after_ms: Option<u64>) -> FrameAck {
    FrameAck {
        frame_id,
        outcome,
        reason: None,
        retry_after_ms,
        faces: None,
    }
}

/// Sends whatever `pick` offers from `spool` at `now`; returns the (seq, id) sent.
fn send(d: &mut Delivery, spool: &[u64], now: Instant) -> Option<(u64, Uuid)> {
    let seq = d.pick(spool.iter().copied(), now)?;
    let id = Uuid::now_v7();
    d.sent(seq, id, now);
    Some((seq, id))
}

#[test]
fn frames_go_oldest_first_at_the_pace_and_within_the_window() {
    let start = Instant::now();
    let mut d = Delivery::new(start);
    d.set_hub_rate(5.0);
    assert_eq!(
        d.pace(),
        Duration::from_millis(250),
        "80 % of the hub's rate"
    );
    let spool = [1, 2, 3, 4, 5];
    assert_eq!(send(&mut d, &spool, start).map(|s| s.0), Some(1));
    assert_eq!(d.pick(spool, start), None, "paced");
    assert_eq!(
        d.next_wakeup(true),
        Some(start + Duration::from_millis(250))
    );
    let mut now = start;
    for expected in [2, 3] {
        now += d.pace();
        assert_eq!(send(&mut d, &spool, now).map(|s| s.0), Some(expected));
    }
    now += d.pace();
    assert_eq!(d.pick(spool, now), None, "the window is full");
    assert_eq!(d.awaiting(), ACK_WINDOW);
}

#[test]
fn final_acks_delete_and_retry_acks_wait_then_resend() {
    let start = Instant::now();
    let mut d = Delivery::new(start);
    let spool = [10, 11];
    let (first, first_id) = send(&mut d, &spool, start).expect("first");
    let later = start + d.pace();
    let (second, second_id) = send(&mut d, &spool, later).expect("second");
    assert_eq!(
        d.acked(&ack(first_id, AckOutcome::Recorded, None), later),
        AckEffect::Delete {
            seq: first,
            recorded: true
        }
    );
    assert_eq!(
        d.acked(&ack(first_id, AckOutcome::Recorded, None), later),
        AckEffect::Unknown,
        "a repeated ack"
    );
    d.forget(first);
    assert_eq!(
        d.acked(&ack(second_id, AckOutcome::Retry, Some(2000)), later),
        AckEffect::Retry(second)
    );
    let spool = [11];
    assert_eq!(
        d.pick(spool, later + Duration::from_secs(1)),
        None,
        "waits as asked"
    );
    let resent = d.pick(spool, later + Duration::from_secs(2));
    assert_eq!(resent, Some(second));
    let rejected = Uuid::now_v7();
    d.sent(second, rejected, later + Duration::from_secs(2));
    assert_eq!(
        d.acked(&ack(rejected, AckOutcome::Rejected, None), later),
        AckEffect::Delete {
            seq: second,
            recorded: false
        }
    );
}

#[test]
fn a_lost_connection_resends_what_was_in_flight_without_giving_up() {
    let start = Instant::now();
    let mut d = Delivery::new(start);
    let spool = [1];
    let mut now = start;
    for _ in 0..(MAX_SILENT_ATTEMPTS * 2) {
        send(&mut d, &spool, now).expect("sent");
        d.connection_lost();
        now += d.pace();
    }
    assert!(
        d.take_given_up().is_empty(),
        "outages are not the frame's fault"
    );
    assert_eq!(d.pick(spool, now), Some(1));
}

#[test]
fn an_unanswered_frame_is_sent_again_then_given_up() {
    let start = Instant::now();
    let mut d = Delivery::new(start);
    let spool = [7, 8];
    let mut now = start;
    send(&mut d, &spool[..1], now).expect("sent");
    for attempt in 1..MAX_SILENT_ATTEMPTS {
        now += ACK_TIMEOUT;
        assert_eq!(d.pick(spool, now), Some(7), "attempt {attempt}: sent again");
        d.sent(7, Uuid::now_v7(), now);
    }
    now += ACK_TIMEOUT;
    assert_eq!(
        d.pick(spool, now),
        Some(8),
        "7 is given up; the next frame goes"
    );
    assert_eq!(d.take_given_up(), vec![7]);
}
