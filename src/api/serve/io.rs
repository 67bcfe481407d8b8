//! The socket as the watcher sees it: every read tells the connection's slot that bytes
//! arrived (the start of an HTTP/1.1 request head starts its deadline), and the first
//! bytes tell HTTP/2 (its preface) from HTTP/1.1.

use super::gate::Slot;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes said.
enum Sniff {
    /// This many bytes of the HTTP/2 preface matched so far.
    Undecided(usize),
    Decided,
}

/// A TCP stream that reports reads to its slot.
pub(super) struct Metered {
    inner: TcpStream,
    slot: Arc<Slot>,
    sniff: Sniff,
}

impl Metered {
    /// `http2_only`: the listener speaks nothing else, no need to look.
    pub(super) fn new(inner: TcpStream, slot: Arc<Slot>, http2_only: bool) -> Self {
        let sniff = if http2_only {
            slot.set_http2();
            Sniff::Decided
        } else {
            Sniff::Undecided(0)
        };
        Metered { inner, slot, sniff }
    }

    fn saw(&mut self, bytes: &[u8]) {
        if let Sniff::Undecided(matched) = self.sniff {
            let want = &PREFACE[matched..];
            let n = bytes.len().min(want.len());
            if bytes[..n] != want[..n] {
                self.sniff = Sniff::Decided;
            } else if matched + n == PREFACE.len() {
                self.slot.set_http2();
                self.sniff = Sniff::Decided;
            } else {
                self.sniff = Sniff::Undecided(matched + n);
            }
        }
        self.slot.bytes_read();
    }
}

impl AsyncRead for Metered {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            if buf.filled().len() > before {
                this.saw(&buf.filled()[before..]);
            }
        }
        r
    }
}

impl AsyncWrite for Metered {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
