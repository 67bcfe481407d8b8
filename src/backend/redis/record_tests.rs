//! Unit tests of the record codec: sealed fields, resend times, old records.

use super::*;

fn record(metadata: Option<&str>) -> Verification {
    Verification {
        id: VerificationId::generate(3).unwrap(),
        tenant: "t".into(),
        to: crate::domain::Destination::Phone(
            crate::domain::PhoneNumber::parse("+14155550123").unwrap(),
        ),
        channel: Channel::Sms,
        status: Status::Pending,
        created_at: 1,
        expires_at: 2,
        send_count: 1,
        max_sends: 5,
        next_resend_at: 1,
        resent_at: Vec::new(),
        attempts_left: 5,
        delivery: Delivery::queued(1),
        metadata: metadata.map(str::to_string),
        locale: None,
        template: None,
        code_length: 6,
        seed: vec![9; 16],
        workflow: None,
        past_steps: Vec::new(),
    }
}

fn reply(fields: Vec<Vec<u8>>) -> Value {
    Value::Array(fields.into_iter().map(Value::BulkString).collect())
}

#[test]
fn personal_data_is_sealed_to_its_record() {
    let sealer = Sealer::new(&[4; 32]);
    for md in [None, Some(r#"{"email":"a@example.com"}"#)] {
        let v = record(md);
        let fields = encode(&v, &[0; 32], &sealer);
        let all: Vec<u8> = fields.concat();
        assert!(!all.windows(10).any(|w| w == b"4155550123"));
        assert!(!all.windows(7).any(|w| w == b"example"));
        let back = decode(&v.id, &reply(fields.clone()), &sealer).unwrap();
        assert_eq!((back.to, back.metadata), (v.to.clone(), v.metadata.clone()));
        let other = VerificationId::generate(3).unwrap();
        assert!(decode(&other, &reply(fields.clone()), &sealer).is_none());
        assert!(decode(&v.id, &reply(fields), &Sealer::new(&[5; 32])).is_none());
    }
}

#[test]
fn resend_times_round_trip_and_old_records_have_none() {
    let sealer = Sealer::new(&[4; 32]);
    let mut v = record(None);
    v.created_at = 1_000;
    v.send_count = 3;
    v.resent_at = vec![31_000, 95_500];
    let fields = encode(&v, &[0; 32], &sealer);
    assert!(fields
        .windows(2)
        .any(|p| p[0] == b"so" && p[1] == b"30000,94500"));
    let back = decode(&v.id, &reply(fields.clone()), &sealer).unwrap();
    assert_eq!(back.resent_at, v.resent_at);
    assert_eq!(back.send_times(), vec![1_000, 31_000, 95_500]);
    let old: Vec<Vec<u8>> = fields
        .chunks(2)
        .filter(|p| p[0] != b"so")
        .flat_map(|p| p.to_vec())
        .collect();
    let back = decode(&v.id, &reply(old), &sealer).unwrap();
    assert!(back.resent_at.is_empty());
    assert_eq!(back.send_times(), vec![1_000; 3]);
}

#[test]
fn records_written_before_sealing_still_decode() {
    let sealer = Sealer::new(&[4; 32]);
    let v = record(Some(r#"{"a":1}"#));
    let mut fields: Vec<Vec<u8>> = encode(&v, &[0; 32], &sealer)
        .chunks(2)
        .filter(|p| p[0] != b"pe")
        .flat_map(|p| p.to_vec())
        .collect();
    for (k, val) in [("to", "+14155550123"), ("md", r#"{"a":1}"#)] {
        fields.extend([k.as_bytes().to_vec(), val.as_bytes().to_vec()]);
    }
    let back = decode(&v.id, &reply(fields), &sealer).unwrap();
    assert_eq!((back.to, back.metadata), (v.to, v.metadata));
}
