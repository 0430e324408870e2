//! Streaming stdio for interactive runs ([`Sandbox::run_streaming`](crate::Sandbox::run_streaming)):
//! the guest's stdin is read from a host reader and its stdout written to a host writer as
//! the guest calls `fd_read` and `fd_write`, so a peer process can hold a conversation with
//! it (send a query, read the answer, reply based on it).
//!
//! Both ends run on helper threads, so that a blocking host read or write never outlives the
//! run's wall-clock deadline (the epoch deadline interrupts wasm code only, not a host call):
//! - stdin: a `hone-stdin` thread reads chunks (up to 64 KiB, whatever one `read` returns)
//!   into a bounded channel; `fd_read` takes what has arrived, and when nothing has, waits
//!   for the next chunk until the deadline (then the run ends as `timeout`). A closed or
//!   failed reader is end of file (a read error is noted at the end of the guest's stderr).
//! - stdout: a `hone-stdout` thread does `write_all` then `flush` of each `fd_write`, and
//!   `fd_write` waits for its acknowledgement until the deadline, so the peer sees every
//!   write at once and a write error ends the run on the call that caused it: a closed
//!   reader (`EPIPE`) or any other error is the runtime error `stdout_closed`.
//!
//! When the run ends the stdout thread is joined (the writer is dropped before
//! `run_streaming` returns) unless a write was still blocked at the deadline; the stdin
//! thread is left to end by itself at the reader's next chunk or end of file (a blocked
//! `read` cannot be interrupted portably), so the reader lives until then.

use std::io::{ErrorKind, Read, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::error::SandboxError;

/// Largest chunk the stdin thread reads at once.
const CHUNK_BYTES: usize = 64 << 10;

/// Chunks the stdin thread may read ahead of the guest (back-pressure on a fast peer).
const CHUNKS_AHEAD: usize = 4;

/// A streaming stdio wait outlived the run's wall-clock deadline.
#[derive(Debug)]
pub(crate) struct StreamTimeout;

impl std::fmt::Display for StreamTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the wall-clock deadline passed while waiting on streamed stdio")
    }
}
impl std::error::Error for StreamTimeout {}

/// Writing the guest's streamed stdout failed (the peer closed it, or another error).
#[derive(Debug)]
pub(crate) struct StdoutClosed(pub String);

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for StdoutClosed {}

/// The host side of a streaming run's stdin and stdout.
pub(crate) struct StreamIo {
    chunks: Receiver<std::io::Result<Vec<u8>>>,
    pending: Vec<u8>,
    pending_at: usize,
    eof: bool,
    /// Why reading stdin stopped early, if it failed.
    pub(crate) read_error: Option<String>,
    writes: Option<SyncSender<Vec<u8>>>,
    acks: Receiver<std::io::Result<()>>,
    writer: Option<JoinHandle<()>>,
    /// A write was handed to the stdout thread and not acknowledged.
    write_in_flight: bool,
    deadline: Instant,
    /// Bytes of stdout written to the writer so far.
    pub(crate) streamed: usize,
}

impl StreamIo {
    /// Starts the two stdio threads; waits never go past `deadline`.
    pub(crate) fn start(
        mut stdin: Box<dyn Read + Send>,
        mut stdout: Box<dyn Write + Send>,
        deadline: Instant,
    ) -> Result<StreamIo, SandboxError> {
        let thread_error = |e: std::io::Error| SandboxError::Instantiate {
            message: format!("could not start a stdio thread: {e}"),
        };
        let (chunk_sender, chunks) = std::sync::mpsc::sync_channel(CHUNKS_AHEAD);
        std::thread::Builder::new()
            .name("hone-stdin".into())
            .spawn(move || {
                let mut buffer = vec![0u8; CHUNK_BYTES];
                loop {
                    match stdin.read(&mut buffer) {
                        Ok(0) => break,
                        Ok(n) => {
                            if chunk_sender.send(Ok(buffer[..n].to_vec())).is_err() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = chunk_sender.send(Err(e));
                            break;
                        }
                    }
                }
            })
            .map_err(thread_error)?;
        let (writes, write_receiver) = std::sync::mpsc::sync_channel::<Vec<u8>>(1);
        let (ack_sender, acks) = std::sync::mpsc::sync_channel(1);
        let writer = std::thread::Builder::new()
            .name("hone-stdout".into())
            .spawn(move || {
                for bytes in write_receiver {
                    let result = stdout.write_all(&bytes).and_then(|()| stdout.flush());
                    let failed = result.is_err();
                    if ack_sender.send(result).is_err() || failed {
                        break;
                    }
                }
            })
            .map_err(thread_error)?;
        Ok(StreamIo {
            chunks,
            pending: Vec::new(),
            pending_at: 0,
            eof: false,
            read_error: None,
            writes: Some(writes),
            acks,
            writer: Some(writer),
            write_in_flight: false,
            deadline,
            streamed: 0,
        })
    }

    /// The stdin bytes that have arrived and not been read, taking any chunk already
    /// waiting (never blocks).
    pub(crate) fn ready(&mut self) -> &[u8] {
        if self.pending_at == self.pending.len() && !self.eof {
            match self.chunks.try_recv() {
                Ok(chunk) => self.accept(chunk),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => self.eof = true,
            }
        }
        &self.pending[self.pending_at..]
    }

    /// Waits until some stdin has arrived or it has ended; `Err` at the deadline.
    pub(crate) fn fill(&mut self) -> Result<(), StreamTimeout> {
        while self.pending_at == self.pending.len() && !self.eof {
            let left = self.deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.accept(chunk),
                Err(RecvTimeoutError::Timeout) => return Err(StreamTimeout),
                Err(RecvTimeoutError::Disconnected) => self.eof = true,
            }
        }
        Ok(())
    }

    fn accept(&mut self, chunk: std::io::Result<Vec<u8>>) {
        match chunk {
            Ok(bytes) => {
                self.pending = bytes;
                self.pending_at = 0;
            }
            Err(e) => {
                self.read_error = Some(e.to_string());
                self.eof = true;
            }
        }
    }

    /// Marks `n` bytes of [`StreamIo::ready`] as read.
    pub(crate) fn consume(&mut self, n: usize) {
        self.pending_at = (self.pending_at + n).min(self.pending.len());
    }

    /// Writes and flushes `bytes` to the peer, waiting until the deadline.
    pub(crate) fn write(&mut self, bytes: Vec<u8>) -> wasmtime::Result<()> {
        let closed = || {
            wasmtime::Error::new(StdoutClosed(
                "stdout was closed by its reader earlier in the run".into(),
            ))
        };
        let Some(writes) = &self.writes else {
            return Err(closed());
        };
        let left = self.deadline.saturating_duration_since(Instant::now());
        // The channel holds one write and the thread acknowledges each before taking the
        // next, so this send never waits.
        if writes.send(bytes).is_err() {
            self.writes = None;
            return Err(closed());
        }
        self.write_in_flight = true;
        match self.acks.recv_timeout(left) {
            Ok(Ok(())) => {
                self.write_in_flight = false;
                Ok(())
            }
            Ok(Err(e)) => {
                self.write_in_flight = false;
                self.writes = None;
                let message = if e.kind() == ErrorKind::BrokenPipe {
                    format!("the reader of stdout closed it (broken pipe: {e})")
                } else {
                    format!("writing stdout failed: {e}")
                };
                Err(wasmtime::Error::new(StdoutClosed(message)))
            }
            Err(RecvTimeoutError::Timeout) => Err(wasmtime::Error::new(StreamTimeout)),
            Err(RecvTimeoutError::Disconnected) => {
                self.write_in_flight = false;
                self.writes = None;
                Err(closed())
            }
        }
    }
}

impl Drop for StreamIo {
    fn drop(&mut self) {
        // Closing the channel ends the stdout thread, which drops the writer.
        self.writes = None;
        if let Some(writer) = self.writer.take()
            && !self.write_in_flight
        {
            let _ = writer.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    struct Failing;

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(ErrorKind::BrokenPipe, "gone"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_read_is_end_of_file_with_a_note() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut io = StreamIo::start(Box::new(Failing), Box::new(Vec::new()), deadline).unwrap();
        io.fill().unwrap();
        assert!(io.ready().is_empty());
        assert_eq!(io.read_error.as_deref(), Some("disk on fire"));
    }

    #[test]
    fn a_broken_pipe_ends_writes_for_good() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut io = StreamIo::start(Box::new(&b""[..]), Box::new(Failing), deadline).unwrap();
        let first = io.write(b"hi".to_vec()).unwrap_err();
        assert!(first.to_string().contains("broken pipe"), "{first}");
        let second = io.write(b"again".to_vec()).unwrap_err();
        assert!(second.to_string().contains("closed"), "{second}");
    }

    #[test]
    fn reads_chunks_in_order_then_end_of_file() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut io =
            StreamIo::start(Box::new(&b"abc"[..]), Box::new(Vec::new()), deadline).unwrap();
        io.fill().unwrap();
        assert_eq!(io.ready(), b"abc");
        io.consume(2);
        assert_eq!(io.ready(), b"c");
        io.consume(1);
        io.fill().unwrap();
        assert!(io.ready().is_empty());
    }
}
