//! Criterion benches of the hot functions of a start and a check: code generation,
//! the code MAC, the number key, phone parsing and message rendering.
//!
//! Run: `cargo bench --bench hot`. Figures go in docs/performance.md.

use criterion::{criterion_group, criterion_main, Criterion};
use otpgw::config::TenantConfig;
use otpgw::crypto::{random_bytes, Keys, ServerSecret};
use otpgw::domain::{AppHash, CodeLength, OtpCode, PhoneNumber};
use otpgw::template::{self, MessageParts};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let keys = Keys::derive(&ServerSecret::new(vec![42u8; 32]));
    let len = CodeLength::new(6).unwrap();
    let seed = random_bytes::<16>();
    let code = OtpCode::parse("123456").unwrap();

    c.bench_function("code/new_seed_from_os_csprng", |b| {
        b.iter(|| black_box(random_bytes::<16>()))
    });
    c.bench_function("code/derive_6_digits", |b| {
        b.iter(|| keys.derive_code(black_box(&seed), len))
    });
    c.bench_function("code/seed_and_derive_6_digits", |b| {
        b.iter(|| keys.derive_code(&random_bytes::<16>(), black_box(len)))
    });
    c.bench_function("hmac/code_mac", |b| {
        b.iter(|| {
            keys.code_mac(
                black_box("acme"),
                black_box("+14155550123"),
                black_box(&code),
            )
        })
    });
    c.bench_function("hmac/number_key", |b| {
        b.iter(|| keys.number_key(black_box("acme"), black_box("+14155550123"), 64))
    });
    PhoneNumber::warm_up();
    // More distinct numbers than the parser remembers, so every parse is a full one.
    let numbers: Vec<String> = (0..20_000)
        .map(|i| format!("+1415{}{:04}", 230 + i / 10_000, i % 10_000))
        .collect();
    let mut next = numbers.iter().cycle();
    c.bench_function("phone/parse_and_validate", |b| {
        b.iter(|| PhoneNumber::parse(black_box(next.next().unwrap())))
    });
    c.bench_function("phone/parse_remembered", |b| {
        b.iter(|| PhoneNumber::parse(black_box("+14155550123")))
    });

    let mut tenant = TenantConfig {
        brand: "Acme".into(),
        ..TenantConfig::default()
    };
    tenant.webotp_domain = Some("acme.example".into());
    let hash = AppHash::parse("FA+9qCX9VSu").unwrap();
    c.bench_function("template/pick_and_render", |b| {
        b.iter(|| {
            let text = template::pick(&tenant, "default", Some(black_box("pt-BR"))).unwrap();
            template::render(
                &tenant,
                text,
                &MessageParts {
                    code: &code,
                    minutes: 10,
                    app_hash: Some(&hash),
                },
            )
        })
    });
    let msg = "Acme: your verification code is 123456. It expires in 10 minutes.\nFA+9qCX9VSu\n\n@acme.example #123456";
    c.bench_function("template/gsm7_segments", |b| {
        b.iter(|| template::segments(black_box(msg)))
    });
}

/// One limit decision in memory: the eight limits of a start (number per minute, hour
/// and day, client IP, tenant, API key, country, prefix), over many numbers so the map
/// holds realistic state.
fn limits(c: &mut Criterion) {
    use otpgw::backend::memory::MemoryLimiter;
    use otpgw::ratelimit::Limit;
    let limiter = MemoryLimiter::default();
    let lim = |reason: &'static str, key: String, quota: u32, window_ms: u64| Limit {
        reason,
        key,
        quota,
        window_ms,
    };
    let mut i = 0u64;
    c.bench_function("ratelimit/memory_decide_8_limits", |b| {
        b.iter(|| {
            i += 1;
            let n = format!("{:024x}", i % 100_000);
            let limits = [
                lim("number_per_minute", n.clone(), 3, 60_000),
                lim("number_per_hour", n.clone(), 10, 3_600_000),
                lim("number_per_day", n, 20, 86_400_000),
                lim("client_ip", format!("{:024x}", i % 5_000), 30, 3_600_000),
                lim("tenant_sends", String::new(), 1_000_000, 1000),
                lim("api_key_sends", "k".into(), 1_000_000, 1000),
                lim("country", "US".into(), 1_000_000, 3_600_000),
                lim("prefix", format!("{:024x}", i % 20_000), 100, 3_600_000),
            ];
            black_box(limiter.decide("acme", &limits, (i / 10) as i64))
        })
    });
}

criterion_group!(hot, benches, limits);
criterion_main!(hot);
