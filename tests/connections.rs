//! Connection limits, with real slow clients over TCP: header and first-request
//! deadlines, the idle timeout, HTTP/2 pings, the per-listener cap (idle connections
//! make room, busy ones do not), and gRPC's global concurrency cap and small message
//! limits for health and reflection.

mod support;

use std::time::{Duration, Instant};
use support::{spawn_app, Backend, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame, and its acknowledgement.
const SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];
const SETTINGS_ACK: [u8; 9] = [0, 0, 0, 4, 1, 0, 0, 0, 0];
/// Far longer than any limit set in these tests: reaching it means nothing closed.
const NEVER: Duration = Duration::from_secs(10);

async fn app(tweak: impl FnOnce(&mut otpgw::Config)) -> TestApp {
    spawn_app(Backend::Memory, tweak).await
}

/// Reads until the server closes the connection (end of file or reset); false if it
/// is still open after `within`.
async fn closed_within(conn: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let t = Instant::now();
    loop {
        let left = within.saturating_sub(t.elapsed());
        match tokio::time::timeout(left, conn.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Sends a request head one line every 100 ms; true once the server has closed the
/// connection, false if it is still open after [`NEVER`].
async fn trickle_head(conn: &mut TcpStream) -> bool {
    conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 256];
    while t.elapsed() < NEVER {
        if conn.write_all(b"x-slow: 1\r\n").await.is_err() {
            return true;
        }
        match tokio::time::timeout(Duration::from_millis(100), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(n)) => panic!("answered an unfinished request: {:?}", &buf[..n]),
            Err(_) => {}
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_header_lines_is_disconnected_at_the_header_timeout() {
    let app = app(|c| {
        c.server.header_read_timeout_ms = 500;
        c.server.idle_timeout_ms = 30_000;
    })
    .await;
    // The first request of a connection...
    let mut conn = TcpStream::connect(app.addr).await.unwrap();
    assert!(
        trickle_head(&mut conn).await,
        "a header line every 100 ms kept a new connection open"
    );
    // ... and a later one on a kept-alive connection.
    let mut conn = TcpStream::connect(app.addr).await.unwrap();
    healthz_keep_alive(&mut conn).await;
    assert!(
        trickle_head(&mut conn).await,
        "a header line every 100 ms kept a kept-alive connection open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_http2_preface_on_the_grpc_port_is_disconnected() {
    let app = app(|c| c.server.header_read_timeout_ms = 500).await;
    let mut conn = TcpStream::connect(app.grpc_addr.unwrap()).await.unwrap();
    conn.write_all(&PREFACE[..16]).await.unwrap();
    assert!(
        closed_within(&mut conn, NEVER).await,
        "a partial HTTP/2 preface held the gRPC connection open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_sends_a_request_is_disconnected_on_both_listeners() {
    let app = app(|c| c.server.header_read_timeout_ms = 500).await;
    for addr in [app.addr, app.grpc_addr.unwrap()] {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        assert!(
            closed_within(&mut conn, NEVER).await,
            "{addr} kept a silent connection"
        );
    }
    // A complete HTTP/2 handshake without a request is closed too.
    let mut conn = TcpStream::connect(app.grpc_addr.unwrap()).await.unwrap();
    conn.write_all(PREFACE).await.unwrap();
    conn.write_all(&SETTINGS).await.unwrap();
    assert!(closed_within(&mut conn, NEVER).await);
}

/// Sends `GET /healthz` on a kept-alive connection and reads the whole answer.
async fn healthz_keep_alive(conn: &mut TcpStream) {
    conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains("\"ok\"}") {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed before the answer: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let app = app(|c| {
        c.server.header_read_timeout_ms = 30_000;
        c.server.idle_timeout_ms = 300;
    })
    .await;
    let mut conn = TcpStream::connect(app.addr).await.unwrap();
    healthz_keep_alive(&mut conn).await;
    // Used again before the timeout, it still answers.
    tokio::time::sleep(Duration::from_millis(100)).await;
    healthz_keep_alive(&mut conn).await;
    assert!(
        closed_within(&mut conn, NEVER).await,
        "an idle kept-alive connection stayed open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn between_requests_only_the_idle_timeout_counts_not_the_header_timeout() {
    let app = app(|c| {
        c.server.header_read_timeout_ms = 300;
        c.server.idle_timeout_ms = 30_000;
        c.server.http2_keepalive_interval_ms = 100;
    })
    .await;
    // HTTP/1.1: a kept-alive connection waits for its next request past the header
    // timeout (a load balancer reusing it must not find it closed).
    let mut conn = TcpStream::connect(app.addr).await.unwrap();
    healthz_keep_alive(&mut conn).await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    healthz_keep_alive(&mut conn).await;
    // HTTP/2 on the same port: pings answered while idle are not a request head.
    let tcp = TcpStream::connect(app.addr).await.unwrap();
    let (client, h2conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(h2conn);
    let healthz = || {
        http::Request::get(format!("http://{}/healthz", app.addr))
            .body(())
            .unwrap()
    };
    let mut client = client.ready().await.unwrap();
    for _ in 0..2 {
        let (answer, _) = client.send_request(healthz(), true).unwrap();
        assert_eq!(answer.await.unwrap().status(), 200);
        tokio::time::sleep(Duration::from_millis(900)).await;
        client = client.ready().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_peer_that_does_not_answer_pings_is_disconnected() {
    let app = app(|c| {
        c.server.header_read_timeout_ms = 30_000;
        c.server.idle_timeout_ms = 30_000;
        c.server.http2_keepalive_interval_ms = 200;
        c.server.http2_keepalive_timeout_ms = 200;
    })
    .await;
    let mut conn = TcpStream::connect(app.grpc_addr.unwrap()).await.unwrap();
    conn.write_all(PREFACE).await.unwrap();
    conn.write_all(&SETTINGS).await.unwrap();
    let mut pinged = false;
    let t = Instant::now();
    loop {
        assert!(t.elapsed() < NEVER, "still open; pinged: {pinged}");
        let mut head = [0u8; 9];
        match tokio::time::timeout(NEVER, conn.read_exact(&mut head)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => break,
            Err(_) => panic!("still open; pinged: {pinged}"),
        }
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        if conn.read_exact(&mut payload).await.is_err() {
            break;
        }
        match (head[3], head[4] & 1) {
            (4, 0) => conn.write_all(&SETTINGS_ACK).await.unwrap(),
            (6, 0) => pinged = true,
            _ => {}
        }
    }
    assert!(pinged, "closed without a ping first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_idle_connections_make_room_and_healthz_still_answers() {
    let app = app(|c| {
        c.server.max_connections = 4;
        c.server.header_read_timeout_ms = 30_000;
    })
    .await;
    // Ten clients that connect and then trickle a request head, far slower than anyone.
    let mut idle = Vec::new();
    for _ in 0..10 {
        let mut c = TcpStream::connect(app.addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        idle.push(c);
    }
    let r = tokio::time::timeout(NEVER, app.http.get(app.url("/healthz")).send())
        .await
        .expect("/healthz answered with the listener full of idle clients")
        .unwrap();
    assert_eq!(r.status(), 200);
    // Eleven connections came to a listener of four: at least seven were closed.
    let checks = idle
        .iter_mut()
        .map(|c| closed_within(c, Duration::from_millis(1_500)));
    let closed = futures_util::future::join_all(checks)
        .await
        .into_iter()
        .filter(|c| *c)
        .count();
    assert!(
        closed >= 7,
        "only {closed} of the idle connections were closed"
    );
}

/// A start whose body is not all sent: its request stays in flight.
async fn start_in_flight(app: &TestApp) -> (TcpStream, String) {
    let body = format!("{{\"to\": \"{}\"}}", support::app::number());
    let (head, tail) = body.split_at(body.len() - 1);
    let mut conn = TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "POST /v1/verifications HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{head}",
        app.key,
        body.len()
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    (conn, tail.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_with_every_connection_busy_new_ones_wait_until_a_request_finishes() {
    let app = app(|c| {
        c.server.max_connections = 2;
        c.server.request_timeout_ms = 30_000;
    })
    .await;
    let (mut a, tail_a) = start_in_flight(&app).await;
    let (_b, _) = start_in_flight(&app).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let http = app.http.clone();
    let url = app.url("/healthz");
    let probe = tokio::spawn(async move { http.get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !probe.is_finished(),
        "a third connection got in while both had a request in flight"
    );
    // A's request finishes; its connection, now idle, makes room.
    a.write_all(tail_a.as_bytes()).await.unwrap();
    let status = tokio::time::timeout(NEVER, probe)
        .await
        .expect("the waiting connection was served once a request finished")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_calls_past_the_global_cap_are_refused_with_unavailable() {
    let app = app(|c| {
        c.server.max_concurrent_requests = 2;
        c.server.request_timeout_ms = 30_000;
    })
    .await;
    let addr = app.grpc_addr.unwrap();
    let start = || {
        http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}/otpgw.v1.Verifications/Start"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("authorization", format!("Bearer {}", app.key))
            .body(())
            .unwrap()
    };
    // Two connections, like two clients, each with a call whose message never comes.
    let mut held = Vec::new();
    for _ in 0..2 {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(conn);
        let mut client = client.ready().await.unwrap();
        let (answer, body) = client.send_request(start(), false).unwrap();
        held.push((client, answer, body));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let (answer, _body) = client.send_request(start(), false).unwrap();
    let answer = tokio::time::timeout(NEVER, answer)
        .await
        .expect("a third call past the cap was answered at once")
        .unwrap();
    let status = answer.headers()["grpc-status"].to_str().unwrap();
    assert_eq!(status, "14", "UNAVAILABLE: {:?}", answer.headers());
    let message = answer.headers()["grpc-message"].to_str().unwrap();
    assert!(message.contains("overloaded"), "{message}");
    drop(held);
}

async fn channel(app: &TestApp) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr.unwrap()))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_refuse_messages_past_a_small_limit() {
    use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let app = app(|_| {}).await;
    let big = "x".repeat(64 * 1024);
    let mut h = HealthClient::new(channel(&app).await);
    let small = h
        .check(HealthCheckRequest {
            service: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(small.code(), tonic::Code::NotFound, "{small:?}");
    let err = h
        .check(HealthCheckRequest {
            service: big.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::OutOfRange, "{err:?}");

    // Reflection reads a small request (here: no such symbol) and drops a big one.
    let mut r = ServerReflectionClient::new(channel(&app).await);
    let ask = |symbol: String| {
        tokio_stream::iter(vec![ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(symbol)),
        }])
    };
    let mut answers = r
        .server_reflection_info(ask("nope".into()))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap_err();
    assert_eq!(answer.code(), tonic::Code::NotFound, "{answer:?}");
    let answer = match r.server_reflection_info(ask(big)).await {
        Err(e) => Err(e),
        Ok(s) => s.into_inner().message().await,
    };
    match answer {
        Ok(None) => {}
        Err(e) => assert_eq!(e.code(), tonic::Code::OutOfRange, "{e:?}"),
        Ok(Some(a)) => panic!("a 64 KiB request was read and answered: {a:?}"),
    }
}
