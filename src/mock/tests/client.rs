//! A raw HTTP/1.1 client for the mock's tests: writes literal request bytes, and reads the response
//! as it is framed on the wire (each chunk of a chunked body kept apart).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound on any single read in these tests, so a broken mock fails a test instead of hanging it.
const READ_LIMIT: Duration = Duration::from_secs(10);

/// The literal bytes of an HTTP/1.1 request with a `Content-Length` body.
pub(super) fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: mock.test\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    [head.as_bytes(), body.as_bytes()].concat()
}

/// A response head.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
}

impl Head {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A whole response as read.
#[derive(Debug)]
pub(super) struct Response {
    pub(super) head: Head,
    /// The body's chunks as framed on the wire (one element for a `Content-Length` body).
    pub(super) chunks: Vec<Bytes>,
    /// Whether the body ended properly: the last chunk, or all `Content-Length` bytes, arrived.
    pub(super) complete: bool,
}

impl Response {
    pub(super) fn status(&self) -> u16 {
        self.head.status
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    pub(super) fn body(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    pub(super) fn json(&self) -> Value {
        assert!(self.complete, "incomplete body");
        serde_json::from_slice(&self.body()).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body()))
    }

    /// The body's SSE frames, checking that each chunk is exactly one frame.
    pub(super) fn frames(&self) -> Vec<Sse> {
        self.chunks.iter().map(|c| Sse::parse(c)).collect()
    }
}

/// One SSE frame: optional `event:` and one `data:` line.
#[derive(Debug)]
pub(super) struct Sse {
    pub(super) event: Option<String>,
    pub(super) data: String,
}

impl Sse {
    /// Parses one frame, checking it ends with a blank line and holds no other.
    pub(super) fn parse(chunk: &[u8]) -> Sse {
        let text = std::str::from_utf8(chunk).expect("SSE is UTF-8");
        let inner = text
            .strip_suffix("\n\n")
            .unwrap_or_else(|| panic!("frame does not end with a blank line: {text:?}"));
        assert!(!inner.contains("\n\n"), "two frames in one chunk: {text:?}");
        let mut frame = Sse { event: None, data: String::new() };
        for line in inner.split('\n') {
            if let Some(event) = line.strip_prefix("event: ") {
                frame.event = Some(event.to_owned());
            } else if let Some(data) = line.strip_prefix("data: ") {
                frame.data = data.to_owned();
            } else {
                panic!("unexpected SSE line {line:?}");
            }
        }
        frame
    }

    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("data is not JSON ({e}): {:?}", self.data))
    }
}

/// One piece of a response body.
#[derive(Debug, PartialEq)]
pub(super) enum Piece {
    Data(Bytes),
    /// The terminating zero-length chunk.
    End,
    /// The connection closed (or failed) before the body ended.
    Closed,
}

/// A client connection, read incrementally.
pub(super) struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    pub(super) async fn open(addr: SocketAddr) -> Conn {
        Conn { stream: TcpStream::connect(addr).await.expect("connect to the mock"), buf: BytesMut::new() }
    }

    pub(super) async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write the request");
    }

    /// Reads more bytes into the buffer; false at EOF or on a reset.
    async fn fill(&mut self) -> bool {
        let read = tokio::time::timeout(READ_LIMIT, self.stream.read_buf(&mut self.buf))
            .await
            .expect("read timed out");
        matches!(read, Ok(n) if n > 0)
    }

    pub(super) async fn head(&mut self) -> Head {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            assert!(self.fill().await, "connection closed before the response head");
        };
        let head = self.buf.split_to(end + 4);
        let text = std::str::from_utf8(&head).expect("head is ASCII");
        let mut lines = text.split("\r\n");
        let status_line = lines.next().expect("status line");
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
        let status = status_line[9..12].parse().expect("status code");
        let headers = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').expect("header line");
                (n.to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        Head { status, headers }
    }

    /// The next chunk of a chunked body.
    pub(super) async fn chunk(&mut self) -> Piece {
        let line_end = loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            if !self.fill().await {
                return Piece::Closed;
            }
        };
        let size = std::str::from_utf8(&self.buf[..line_end]).expect("chunk size is ASCII");
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).expect("hex size");
        while self.buf.len() < line_end + 2 + size + 2 {
            if !self.fill().await {
                return Piece::Closed;
            }
        }
        self.buf.advance(line_end + 2);
        let data = self.buf.split_to(size).freeze();
        assert_eq!(&self.buf[..2], b"\r\n", "chunk not followed by CRLF");
        self.buf.advance(2);
        if size == 0 { Piece::End } else { Piece::Data(data) }
    }

    /// The rest of the body, as framed by `head`.
    pub(super) async fn body(&mut self, head: &Head) -> (Vec<Bytes>, bool) {
        if head.header("transfer-encoding") == Some("chunked") {
            let mut chunks = Vec::new();
            loop {
                match self.chunk().await {
                    Piece::Data(data) => chunks.push(data),
                    Piece::End => return (chunks, true),
                    Piece::Closed => return (chunks, false),
                }
            }
        }
        let len: usize = head.header("content-length").map_or(0, |v| v.parse().expect("content-length"));
        while self.buf.len() < len {
            if !self.fill().await {
                return (vec![self.buf.split().freeze()], false);
            }
        }
        (vec![self.buf.split_to(len).freeze()], true)
    }

    /// Whether the peer sends nothing (and keeps the connection open) for `window`.
    pub(super) async fn is_quiet_for(&mut self, window: Duration) -> bool {
        let mut byte = [0u8; 1];
        tokio::time::timeout(window, self.stream.read(&mut byte)).await.is_err()
    }
}

/// Sends one request on a fresh connection and reads the whole response.
pub(super) async fn exchange(addr: SocketAddr, request: &[u8]) -> Response {
    let mut conn = Conn::open(addr).await;
    conn.send(request).await;
    let head = conn.head().await;
    let (chunks, complete) = conn.body(&head).await;
    Response { head, chunks, complete }
}
