//! What the facade adds to the store, on every backend without the gateway around it:
//! `approve` (Twilio's `Status=approved`: one atomic step, like a cancel) and
//! `pending_id` (a verification fetched by its `To`).

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
    let after = store
        .approve("t", &id, &n, 60_000, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, Status::Approved);
    assert_eq!(
        store.pending_id(&n, now).await.unwrap(),
        None,
        "the number is free again"
    );
    assert_eq!(
        store.get("t", &id).await.unwrap().unwrap().status,
        Status::Approved
    );
    // Approving or canceling a finished one changes nothing.
    let again = store
        .cancel("t", &id, &n, 60_000, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.status, Status::Approved);

    // A canceled one stays canceled.
    let spec = start_spec(&n, 0);
    let id2 = spec.fresh.id.clone();
    assert!(matches!(
        store.start(spec, now).await.unwrap(),
        StartOutcome::Created(_)
    ));
    store.cancel("t", &id2, &n, 60_000, now).await.unwrap();
    let after = store
        .approve("t", &id2, &n, 60_000, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, Status::Canceled);
    // Past its expiry nothing is approved.
    let spec = start_spec(&n, 0);
    let (id3, expires) = (spec.fresh.id.clone(), spec.fresh.expires_at);
    assert!(matches!(
        store.start(spec, now).await.unwrap(),
        StartOutcome::Created(_)
    ));
    let late = store
        .approve("t", &id3, &n, 60_000, expires)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(late.status, Status::Pending, "expired, not approved");
}

on_every_backend!(approve_moves_only_a_pending_verification);
