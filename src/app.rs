//! Assembly: one builder turns a [`Config`] into a running gateway.
//!
//! [`Application::build`] validates the config, makes the backend (store, queue, limits;
//! [`crate::backend::build`], called here and nowhere else), the providers and the
//! service, and binds the listener (port 0 works, which is how tests run many gateways).
//! [`Application::run_until`] serves until the shutdown future completes, then stops
//! accepting, gives in-flight requests `shutdown_grace_ms`, and gives queued messages
//! `shutdown_deadline_ms` before returning. Every listener (HTTP, gRPC, metrics) is
//! served by [`crate::api::serve`], with its connection limits.

use crate::api::http::{self, AppState};
use crate::api::serve::{self, Limits, Protocols};
use crate::backend;
use crate::config::Config;
use crate::crypto::Keys;
use crate::delivery::{self, Router, Workers};
use crate::metrics::Metrics;
use crate::providers::outbox::Outbox;
use crate::service::{Service, Tenants};
use crate::store;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A built, bound, not yet serving gateway.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    workers: Workers,
    service: Service,
    outbox: Option<Outbox>,
    grpc: Option<(TcpListener, crate::config::ServerConfig)>,
    metrics: Metrics,
    /// The listener of `metrics.listen`, when set.
    metrics_listener: Option<TcpListener>,
    /// Handler state, for the metrics listener and the gauge refresher.
    state: AppState,
    limits: Limits,
    metrics_refresh: Duration,
    /// The providers, closed after the drain (SMPP binds unbind).
    providers: Arc<Router>,
    /// The fleet numbers' flush task, stopped after one last flush at shutdown.
    stats_flusher: tokio::task::JoinHandle<()>,
    /// The events worker, when a tenant has an `[events]` section.
    event_worker: Option<crate::events::worker::EventWorker>,
}

mod preflight;
mod signal;

pub use signal::shutdown_signal;

impl Application {
    /// Validates `cfg` and builds every part. Fails with every config problem listed.
    pub async fn build(cfg: Config) -> anyhow::Result<Self> {
        let secret = preflight::check(&cfg)?;
        let metrics = Metrics::new();
        let keys = Keys::derive(&secret);
        // The one place a backend is chosen: store, queue, limiter and guard state together.
        let backend = backend::build_with(
            &cfg.store,
            cfg.delivery.queue_capacity,
            &keys,
            cfg.stats.retention_hours,
        )?;
        metrics
            .stats
            .set_prices(crate::config::price_tables(&cfg.providers));
        metrics.stats.set_currency(cfg.stats.currency.clone());
        let stats_flusher = crate::service::stats::spawn_flusher(
            metrics.stats.clone(),
            backend.stats.clone(),
            Duration::from_millis(cfg.stats.flush_ms.max(100)),
        );
        let queue = backend.queue.clone();
        let store: Arc<dyn store::Store> = Arc::new(store::MeteredStore::new(
            backend.store.clone(),
            metrics.clone(),
        ));
        let outbox = cfg.dev.outbox.then(Outbox::default);
        // Receipts that arrive on a provider's own connection (SMPP binds) take the
        // HTTP receipts' path through this channel.
        let (receipts_tx, receipts_rx) = tokio::sync::mpsc::channel(10_000);
        let router = Arc::new(Router::with_receipts(
            &cfg,
            metrics.clone(),
            &crate::providers::ReceiptSink::new(receipts_tx),
        )?);
        let tenants = Tenants::new(&cfg.tenants);
        let events =
            crate::events::Emitter::new(backend.events.clone(), &cfg.tenants, metrics.clone());
        delivery::receipts::spawn_pushed(
            store.clone(),
            receipts_rx,
            metrics.clone(),
            events.clone(),
        );
        let event_worker = crate::events::worker::spawn(&events, &cfg.tenants, metrics.clone())?;
        let workers = delivery::start(delivery::Ctx {
            store: store.clone(),
            queue: queue.clone(),
            router: router.clone(),
            keys: keys.clone(),
            tenants: tenants.clone(),
            outbox: outbox.clone(),
            consumer: delivery::consumer_name(),
            cfg: cfg.delivery.clone(),
            metrics: metrics.clone(),
            events: events.clone(),
        });
        let abuse = crate::service::Abuse::new(
            backend.gate(),
            crate::ratelimit::local::LocalShed::new(&cfg.tenants),
            keys.clone(),
            metrics.clone(),
        );
        let service = Service::new(
            store,
            keys,
            tenants,
            cfg.store.redis.shards,
            metrics.clone(),
            abuse,
            crate::service::Fleet {
                router: router.clone(),
                queue: queue.clone(),
                stats: backend.stats.clone(),
                events,
            },
        );
        let listener = TcpListener::bind(cfg.server.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.server.listen))?;
        let addr = listener.local_addr()?;
        preflight::warn_exposed(addr, service.tenants(), outbox.is_some());
        let grpc = if cfg.grpc.enabled {
            let l = TcpListener::bind(cfg.grpc.listen).await.map_err(|e| {
                anyhow::anyhow!("cannot listen for gRPC on {}: {e}", cfg.grpc.listen)
            })?;
            Some((l, cfg.server.clone()))
        } else {
            None
        };
        let metrics_listener = match cfg.metrics.listen {
            Some(a) => Some(
                TcpListener::bind(a)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {a}: {e}"))?,
            ),
            None => None,
        };
        // With a listener of its own, where it may be reached is the operator's choice.
        if cfg.metrics.bearer_token_hash.is_none()
            && metrics_listener.is_none()
            && !addr.ip().is_loopback()
        {
            tracing::warn!(
                "/metrics (tenant ids, volumes per country) is open to anyone who reaches the \
                 API on {addr}: set metrics.bearer_token_hash, or metrics.listen on an \
                 internal address"
            );
        }
        let state = AppState {
            service: service.clone(),
            outbox: outbox.clone(),
            body_limit: cfg.server.body_limit_bytes,
            public_base_url: cfg.receipts.public_base_url.clone(),
            receipt_body_limit: cfg.receipts.body_limit_bytes,
            metrics: metrics.clone(),
            access: Arc::new(http::Access::new(
                crate::service::AdminKeys::new(&cfg.admin.api_keys),
                cfg.server.trusted_proxies.clone(),
                cfg.mode,
            )),
            scrape: http::metrics::Scrape::from_config(&cfg.metrics),
        };
        Ok(Application {
            router: http::router(state.clone(), &cfg.server),
            listener,
            workers,
            service,
            outbox,
            grpc,
            metrics,
            metrics_listener,
            state,
            limits: Limits::from_config(&cfg.server),
            metrics_refresh: Duration::from_millis(cfg.metrics.refresh_interval_ms.max(100)),
            providers: router,
            stats_flusher,
            event_worker,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// The bound gRPC address, when gRPC is enabled.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// The bound metrics address, when `metrics.listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The service (tests and embedders).
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// The dev outbox, if enabled.
    pub fn outbox(&self) -> Option<&Outbox> {
        self.outbox.as_ref()
    }

    /// Serves until `shutdown` completes, then drains requests and the queue.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let refresher =
            http::metrics::spawn_refresh(self.state.clone(), self.metrics_refresh, rx.clone());
        let mut servers = Vec::new();
        servers.push(tokio::spawn(serve::serve(
            self.listener,
            self.router,
            self.limits.clone(),
            Protocols::Http1And2,
            rx.clone(),
            "HTTP",
        )));
        if let Some((listener, server_cfg)) = self.grpc {
            let (service, metrics, rx) = (self.service.clone(), self.metrics.clone(), rx.clone());
            servers.push(tokio::spawn(async move {
                crate::api::grpc::serve(listener, service, metrics, &server_cfg, rx).await
            }));
        }
        if let Some(listener) = self.metrics_listener {
            servers.push(tokio::spawn(serve::serve(
                listener,
                http::metrics::router(self.state.clone()),
                self.limits.clone(),
                Protocols::Http1And2,
                rx.clone(),
                "metrics",
            )));
        }
        shutdown.await;
        let _ = tx.send(true);
        for s in servers {
            if let Err(e) = s.await {
                tracing::error!(error = %e, "a listener task failed");
            }
        }
        // A refresh under way may be waiting on a store that is gone: do not wait for it.
        refresher.abort();
        tracing::info!("stopped accepting requests; draining the delivery queue");
        let drained = self.workers.shutdown().await;
        if let Some(w) = self.event_worker {
            w.shutdown().await;
        }
        self.providers.close().await;
        self.stats_flusher.abort();
        let fleet = self.service.fleet();
        crate::service::stats::flush(&self.metrics.stats, &*fleet.stats).await;
        tracing::info!(drained, "shutdown complete");
        drop(rx);
        Ok(())
    }
}
