//! Tests of the session decision: one per state change of a face's record.

use super::*;

fn descriptor(x: f32) -> Descriptor {
    let mut d = [0.0f32; 128];
    d[0] = x;
    Descriptor(d)
}

fn matched(student: Uuid, class: MatchClass, confidence: f32) -> FaceFacts {
    FaceFacts {
        class,
        student: Some(student),
        confidence,
        descriptor: descriptor(0.0),
    }
}

fn unknown(x: f32) -> FaceFacts {
    FaceFacts {
        class: MatchClass::Unknown,
        student: None,
        confidence: 0.0,
        descriptor: descriptor(x),
    }
}

fn session() -> DateTime<Utc> {
    session_start(Utc::now(), chrono::Duration::minutes(60))
}

fn run(
    faces: &[FaceFacts],
    open: &HashMap<Uuid, OpenRecord>,
    unknowns: &UnknownFaces,
) -> Vec<FaceDecision> {
    decide(
        faces,
        open,
        unknowns,
        "room-1",
        session(),
        true,
        Uuid::now_v7,
    )
}

#[test]
fn session_windows_are_aligned() {
    let window = chrono::Duration::minutes(60);
    let at = DateTime::parse_from_rfc3339("2026-03-02T09:41:07Z")
        .expect("time")
        .with_timezone(&Utc);
    let start = session_start(at, window);
    assert_eq!(start.to_rfc3339(), "2026-03-02T09:00:00+00:00");
    assert_eq!(
        session_start(at + chrono::Duration::minutes(18), window),
        start
    );
    assert_ne!(
        session_start(at + chrono::Duration::minutes(19), window),
        start
    );
}

#[test]
fn a_first_sighting_opens_a_record_auto_approved_only_when_high() {
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let decisions = run(
        &[
            matched(ada, MatchClass::High, 0.9),
            matched(bob, MatchClass::Medium, 0.6),
        ],
        &HashMap::new(),
        &UnknownFaces::default(),
    );
    assert!(
        matches!(decisions[0], FaceDecision::New { student: Some(s), status: ReviewStatus::Approved, .. } if s == ada)
    );
    assert!(matches!(
        decisions[1],
        FaceDecision::New {
            status: ReviewStatus::Pending,
            ..
        }
    ));
    assert_eq!(decisions[0].outcome(), "auto_approved");
    assert_eq!(decisions[1].outcome(), "created");
    assert!(decisions.iter().all(FaceDecision::saves_crop));
}

#[test]
fn a_student_seen_again_in_the_session_counts_on_the_open_record() {
    let ada = Uuid::now_v7();
    let record = Uuid::now_v7();
    let open = HashMap::from([(
        ada,
        OpenRecord {
            id: record,
            confidence: 0.8,
        },
    )]);
    let weaker = run(
        &[matched(ada, MatchClass::High, 0.7)],
        &open,
        &UnknownFaces::default(),
    );
    assert_eq!(
        weaker,
        vec![FaceDecision::Again {
            id: record,
            better: false,
            unknown: false
        }]
    );
    assert!(!weaker[0].saves_crop());
    let stronger = run(
        &[matched(ada, MatchClass::High, 0.95)],
        &open,
        &UnknownFaces::default(),
    );
    assert_eq!(
        stronger,
        vec![FaceDecision::Again {
            id: record,
            better: true,
            unknown: false
        }]
    );
    assert_eq!(stronger[0].outcome(), "updated");
}

#[test]
fn a_student_twice_in_one_frame_has_one_record() {
    let ada = Uuid::now_v7();
    let decisions = run(
        &[
            matched(ada, MatchClass::High, 0.7),
            matched(ada, MatchClass::High, 0.9),
        ],
        &HashMap::new(),
        &UnknownFaces::default(),
    );
    let FaceDecision::New { id, .. } = decisions[0] else {
        panic!("first face opens the record");
    };
    assert_eq!(
        decisions[1],
        FaceDecision::Again {
            id,
            better: true,
            unknown: false
        }
    );
}

#[test]
fn a_low_confidence_match_is_an_unknown_face() {
    let ada = Uuid::now_v7();
    let decisions = run(
        &[matched(ada, MatchClass::Unknown, 0.2)],
        &HashMap::new(),
        &UnknownFaces::default(),
    );
    assert!(matches!(
        decisions[0],
        FaceDecision::New { student: None, .. }
    ));
    assert_eq!(decisions[0].outcome(), "unknown");
}

#[test]
fn unknown_look_alikes_share_a_record_and_strangers_do_not() {
    let mut unknowns = UnknownFaces::default();
    let first = run(
        &[unknown(0.0), unknown(0.1), unknown(5.0)],
        &HashMap::new(),
        &unknowns,
    );
    assert!(matches!(first[0], FaceDecision::New { .. }));
    assert_eq!(
        first[1],
        FaceDecision::Again {
            id: first[0].record_id(),
            better: false,
            unknown: true
        },
        "a look-alike in the same frame"
    );
    assert!(matches!(first[2], FaceDecision::New { .. }), "a stranger");
    unknowns.remember(
        "room-1",
        session(),
        chrono::Duration::minutes(60),
        descriptor(0.0),
        first[0].record_id(),
        0.0,
    );
    let later = run(&[unknown(0.05)], &HashMap::new(), &unknowns);
    assert_eq!(
        later,
        vec![FaceDecision::Again {
            id: first[0].record_id(),
            better: false,
            unknown: true
        }]
    );
    unknowns.forget("room-1", session());
    assert!(matches!(
        run(&[unknown(0.05)], &HashMap::new(), &unknowns)[0],
        FaceDecision::New { .. }
    ));
}

#[test]
fn unknown_faces_of_ended_sessions_are_forgotten() {
    let window = chrono::Duration::minutes(60);
    let mut unknowns = UnknownFaces::default();
    let old = session() - window * 3;
    unknowns.remember("room-1", old, window, descriptor(0.0), Uuid::now_v7(), 0.0);
    assert!(unknowns.nearest("room-1", old, &descriptor(0.0)).is_some());
    unknowns.remember(
        "room-1",
        session(),
        window,
        descriptor(0.0),
        Uuid::now_v7(),
        0.0,
    );
    assert!(unknowns.nearest("room-1", old, &descriptor(0.0)).is_none());
}
