//! What the facade adds to the store, on every backend without the gateway around it:
//! `approve` (Twilio's `Status=approved`: one atomic step, like a cancel) and
//! `pending_id` (a verification fetched by its `To`), and each send's time kept on the
//! record by the start step (the Verification's `send_code_attempts`).

use crate::support::store::{backend, number, on_every_backend, start_spec};
use otpgw::domain::{now_millis, Status};
use otpgw::store::StartOutcome;

async fn approve_moves_only_a_pending_verification(kind: &str) {
    let (store, _queue) = backend(kind).await;
    let now = now_millis();
    let n = number();
    let spec = start_spec(&n, 0);
    let id = spec.fresh.id.clone();
    assert!(matches!(
        store.start(spec, now).await.unwrap(),
        StartOutcome::Created(_)
    ));
    assert_eq!(store.pending_id(&n, now).await.unwrap(), Some(id.clone()));

    assert_eq!(
        store.approve("other", &id, &n, 60_000, now).await.unwrap(),
        None,
        "another tenant's id is unknown"
    );
    assert_eq!(store.pending_id(&n, now).await.unwrap(), Some(id.clone()));
    let (after, moved) = store
        .approve("t", &id, &n, 60_000, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((after.status, moved), (Status::Approved, true));
    assert_eq!(
        store.pending_id(&n, now).await.unwrap(),
        None,
        "the number is free again"
    );
    assert_eq!(
        store.get("t", &id).await.unwrap().unwrap().status,
        Status::Approved
    );
    // Approving or canceling a finished one changes nothing, and says so (the guard
    // counts an approval once).
    let (again, moved) = store
        .approve("t", &id, &n, 60_000, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.status, moved), (Status::Approved, false));
    let (again, moved) = store
        .cancel("t", &id, &n, 60_000, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.status, moved), (Status::Approved, false));

    // A canceled one stays canceled.
    let spec = start_spec(&n, 0);
    let id2 = spec.fresh.id.clone();
    assert!(matches!(
        store.start(spec, now).await.unwrap(),
        StartOutcome::Created(_)
    ));
    // Of two cancels, the one that moved it says so (its event and metric count once).
    let first = store.cancel("t", &id2, &n, 60_000, now).await.unwrap();
    let second = store.cancel("t", &id2, &n, 60_000, now).await.unwrap();
    assert_eq!(
        [first, second].map(|r| r.map(|(v, moved)| (v.status, moved))),
        [
            Some((Status::Canceled, true)),
            Some((Status::Canceled, false))
        ]
    );
    let (after, moved) = store
        .approve("t", &id2, &n, 60_000, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((after.status, moved), (Status::Canceled, false));
    // Past its expiry nothing is approved.
    let spec = start_spec(&n, 0);
    let (id3, expires) = (spec.fresh.id.clone(), spec.fresh.expires_at);
    assert!(matches!(
        store.start(spec, now).await.unwrap(),
        StartOutcome::Created(_)
    ));
    let (late, moved) = store
        .approve("t", &id3, &n, 60_000, expires)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((late.status, moved), (Status::Pending, false), "expired");
}

async fn each_send_keeps_its_own_time(kind: &str) {
    let (store, _queue) = backend(kind).await;
    let n = number();
    let spec = start_spec(&n, 0);
    let (id, t0) = (spec.fresh.id.clone(), spec.fresh.created_at);
    assert!(matches!(
        store.start(spec, t0).await.unwrap(),
        StartOutcome::Created(_)
    ));
    let at = [t0 + 11_000, t0 + 25_500, t0 + 26_000, t0 + 40_250];
    for (i, t) in at.iter().enumerate() {
        match store.start(start_spec(&n, 0), *t).await.unwrap() {
            StartOutcome::Resent(v) => assert_eq!(v.resent_at, at[..=i], "send {}", i + 2),
            other => panic!("send {}: {other:?}", i + 2),
        }
    }
    // `max_sends` (5) bounds the times kept: a sixth send is refused and adds none.
    assert!(matches!(
        store.start(start_spec(&n, 0), t0 + 50_000).await.unwrap(),
        StartOutcome::MaxSends(_)
    ));
    let v = store.get("t", &id).await.unwrap().unwrap();
    assert_eq!(v.send_count, 5);
    assert_eq!(v.resent_at, at);
    let mut all = vec![t0];
    all.extend(at);
    assert_eq!(v.send_times(), all);
}

on_every_backend!(
    approve_moves_only_a_pending_verification,
    each_send_keeps_its_own_time
);
