//! The gRPC API (`proto/otpgw/v1/otpgw.proto`): the same service as HTTP, on its own
//! listener (default `127.0.0.1:50051`): verifications, and delivery-only sends
//! (`Deliver`, `GetDelivery`, `ConfirmDelivery`, over [`crate::api::deliveries`]).
//!
//! Why a separate port rather than sharing the HTTP one by content type: gRPC needs
//! HTTP/2 end to end and its own error framing, while the HTTP port's middleware answers
//! with problem documents; two listeners keep each stack simple, let load balancers and
//! probes treat them differently, and let an operator expose only one of them.
//!
//! Same auth (`authorization: Bearer` metadata), same parsing, limits and idempotency
//! (`idempotency-key` metadata) through [`crate::api::common`]; errors render from the one
//! mapping in [`crate::error`]. Alongside: `grpc.health.v1` (SERVING while the store
//! answers, checked every second) and server reflection. How the listener is served
//! (connection limits, the global concurrency cap, deadlines) is in [`serve()`].

mod convert;
mod serve;
mod status;

/// Generated protobuf types, client and server.
pub mod pb {
    tonic::include_proto!("otpgw.v1");
    /// Encoded file descriptor set of `otpgw.proto`, for reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/otpgw_v1_descriptor.bin"));
}

pub use convert::{json_to_struct, struct_to_json};
pub use serve::{serve, SMALL_MESSAGE_LIMIT};

use crate::api::common::{self, RawCheck, RawStart};
use crate::api::deliveries::{self, RawDelivery};
use crate::error::Error;
use crate::service::{Service, Tenant};
use pb::verifications_server::Verifications;
use std::sync::Arc;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use tracing::Instrument;

/// The `Verifications` service over the shared service layer.
pub struct GrpcApi {
    service: Service,
    metrics: crate::metrics::Metrics,
}

/// Counts and times one call.
async fn observed<T>(
    m: &crate::metrics::Metrics,
    method: &str,
    fut: impl std::future::Future<Output = Result<Response<T>, Status>>,
) -> Result<Response<T>, Status> {
    let started = std::time::Instant::now();
    let r = fut.await;
    let code = match &r {
        Ok(_) => "Ok".to_string(),
        Err(s) => format!("{:?}", s.code()),
    };
    m.grpc_duration
        .with_label_values(&[method])
        .observe(started.elapsed().as_secs_f64());
    m.grpc_requests.with_label_values(&[method, &code]).inc();
    r
}

fn authenticate(service: &Service, md: &MetadataMap) -> Result<Arc<Tenant>, Error> {
    let value = md
        .get("authorization")
        .ok_or_else(|| {
            Error::Unauthorized("missing `authorization: Bearer <api key>` metadata".into())
        })?
        .to_str()
        .map_err(|_| Error::Unauthorized("malformed authorization metadata".into()))?;
    let key = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 512)
        .ok_or_else(|| Error::Unauthorized("authorization must be `Bearer <api key>`".into()))?;
    service
        .tenants()
        .authenticate(key)
        .ok_or_else(|| Error::Unauthorized("invalid API key".into()))
}

fn request_id(md: &MetadataMap) -> String {
    md.get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| {
            (1..=128).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_string)
        .unwrap_or_else(|| hex::encode(crate::crypto::random_bytes::<12>()))
}

#[tonic::async_trait]
impl Verifications for GrpcApi {
    async fn start(
        &self,
        req: Request<pb::StartRequest>,
    ) -> Result<Response<pb::Verification>, Status> {
        observed(&self.metrics, "Start", self.start_call(req)).await
    }

    async fn check(
        &self,
        req: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::Verification>, Status> {
        observed(&self.metrics, "Check", self.check_call(req)).await
    }

    async fn get(
        &self,
        req: Request<pb::GetRequest>,
    ) -> Result<Response<pb::Verification>, Status> {
        observed(&self.metrics, "Get", self.get_call(req)).await
    }

    async fn cancel(
        &self,
        req: Request<pb::CancelRequest>,
    ) -> Result<Response<pb::Verification>, Status> {
        observed(&self.metrics, "Cancel", self.cancel_call(req)).await
    }

    async fn next_step(
        &self,
        req: Request<pb::NextStepRequest>,
    ) -> Result<Response<pb::Verification>, Status> {
        observed(&self.metrics, "NextStep", async {
            let tenant = authenticate(&self.service, req.metadata())?;
            let view = common::next_step(&self.service, &tenant, &req.into_inner().id).await?;
            Ok(Response::new(view.into()))
        })
        .await
    }

    async fn deliver(
        &self,
        req: Request<pb::DeliverRequest>,
    ) -> Result<Response<pb::CodeDelivery>, Status> {
        observed(&self.metrics, "Deliver", self.deliver_call(req)).await
    }

    async fn get_delivery(
        &self,
        req: Request<pb::GetDeliveryRequest>,
    ) -> Result<Response<pb::CodeDelivery>, Status> {
        observed(&self.metrics, "GetDelivery", self.get_delivery_call(req)).await
    }

    async fn confirm_delivery(
        &self,
        req: Request<pb::ConfirmDeliveryRequest>,
    ) -> Result<Response<pb::CodeDelivery>, Status> {
        observed(&self.metrics, "ConfirmDelivery", self.confirm_call(req)).await
    }
}

/// The `ratelimit-policy` / `ratelimit` values of the HTTP API, as response metadata.
fn rate_metadata<T>(resp: &mut Response<T>, info: &crate::service::RateInfo) {
    let m = resp.metadata_mut();
    if let Some(v) = info.policy().and_then(|v| v.parse().ok()) {
        m.insert("ratelimit-policy", v);
    }
    if let Some(v) = info.current().and_then(|v| v.parse().ok()) {
        m.insert("ratelimit", v);
    }
}

impl GrpcApi {
    async fn start_call(
        &self,
        req: Request<pb::StartRequest>,
    ) -> Result<Response<pb::Verification>, Status> {
        let tenant = authenticate(&self.service, req.metadata())?;
        let key =
            common::idempotency_key(req.metadata().get("idempotency-key").map(|v| v.as_bytes()))?;
        let rid = request_id(req.metadata());
        let span = tracing::info_span!("grpc", method = "Start", request_id = %rid);
        let raw = RawStart::from(req.into_inner());
        let r = common::start(&self.service, &tenant, raw, key, Some(rid))
            .instrument(span)
            .await?;
        let mut resp = Response::new(r.view.into());
        rate_metadata(&mut resp, &r.rate);
        if r.replayed {
            resp.metadata_mut()
                .insert("idempotent-replayed", "true".parse().expect("static"));
        }
        Ok(resp)
    }

    async fn check_call(
        &self,
        req: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::Verification>, Status> {
        let tenant = authenticate(&self.service, req.metadata())?;
        let (view, rate) =
            common::check_rated(&self.service, &tenant, RawCheck::from(req.into_inner())).await?;
        let mut resp = Response::new(view.into());
        rate_metadata(&mut resp, &rate);
        Ok(resp)
    }

    async fn get_call(
        &self,
        req: Request<pb::GetRequest>,
    ) -> Result<Response<pb::Verification>, Status> {
        let tenant = authenticate(&self.service, req.metadata())?;
        let view = common::get(&self.service, &tenant, &req.into_inner().id).await?;
        Ok(Response::new(view.into()))
    }

    async fn deliver_call(
        &self,
        req: Request<pb::DeliverRequest>,
    ) -> Result<Response<pb::CodeDelivery>, Status> {
        let tenant = authenticate(&self.service, req.metadata())?;
        let key =
            common::idempotency_key(req.metadata().get("idempotency-key").map(|v| v.as_bytes()))?;
        let rid = request_id(req.metadata());
        let span = tracing::info_span!("grpc", method = "Deliver", request_id = %rid);
        let raw = RawDelivery::from(req.into_inner());
        let d = deliveries::create(&self.service, &tenant, raw, key, Some(rid))
            .instrument(span)
            .await?;
        let mut resp = Response::new(d.view.into());
        rate_metadata(&mut resp, &d.rate);
        if d.replayed {
            resp.metadata_mut()
                .insert("idempotent-replayed", "true".parse().expect("static"));
        }
        Ok(resp)
    }

    async fn get_delivery_call(
        &self,
        req: Request<pb::GetDeliveryRequest>,
    ) -> Result<Response<pb::CodeDelivery>, Status> {
        let tenant = authenticate(&self.service, req.metadata())?;
        let view = deliveries::get(&self.service, &tenant, &req.into_inner().id).await?;
        Ok(Response::new(view.into()))
    }

    async fn confirm_call(
        &self,
        req: Request<pb::ConfirmDeliveryRequest>,
    ) -> Result<Response<pb::CodeDelivery>, Status> {
        let tenant = authenticate(&self.service, req.metadata())?;
        let r = req.into_inner();
        let risk = r.risk_context.map(convert::risk_json);
        let view = deliveries::confirm(&self.service, &tenant, &r.id, risk.as_ref()).await?;
        Ok(Response::new(view.into()))
    }

    async fn cancel_call(
        &self,
        req: Request<pb::CancelRequest>,
    ) -> Result<Response<pb::Verification>, Status> {
        let tenant = authenticate(&self.service, req.metadata())?;
        let view = common::cancel(&self.service, &tenant, &req.into_inner().id).await?;
        Ok(Response::new(view.into()))
    }
}
