//! Streaming stdio for interactive runs ([`Sandbox::run_streaming`](crate::Sandbox::run_streaming)):
//! the guest's stdin is read from a host reader and its stdout written to a host writer as
//! the guest calls `fd_read` and `fd_write`, so a peer process can hold a conversation with
//! it (send a query, read the answer, reply based on it).
//!
//! Both ends run on helper threads, so that a blocking host read or write never outlives the
//! run's wall-clock deadline (the epoch deadline interrupts wasm code only, not a host call):
//! - stdin: a `hone-stdin` thread reads chunks (up to 64 KiB, whatever one `read` returns)
//!   into a bounded channel. `fd_read` hands the guest one line at a time, like a terminal
//!   in canonical mode: it waits until a whole line has arrived (or end of file, or as many
//!   bytes as the guest asked for) and returns that line, never more. So what the guest
//!   reads, and hence its fuel, does not depend on how the peer's writes were split into
//!   chunks (`writeln!` on an unbuffered pipe makes one write per piece). A partial line
//!   with nothing more for [`PARTIAL_LINE_WAIT`] is handed over as it is (protocols without
//!   newlines still work, timing-dependently). Waiting for the first byte ends at the
//!   deadline (the run then ends as `timeout`). A closed or failed reader is end of file (a
//!   read error is noted at the end of the guest's stderr).
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
use std::time::{Duration, Instant};

use crate::error::SandboxError;

/// Largest chunk the stdin thread reads at once.
const CHUNK_BYTES: usize = 64 << 10;

/// Chunks the stdin thread may read ahead of the guest (back-pressure on a fast peer).
const CHUNKS_AHEAD: usize = 4;

/// How long a partial line (no newline yet) waits for more bytes before `fd_read` returns it.
pub(crate) const PARTIAL_LINE_WAIT: Duration = Duration::from_millis(100);

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

    /// The stdin bytes that have arrived and not been read, taking a chunk already waiting
    /// if there is one (never blocks).
    pub(crate) fn ready(&mut self) -> &[u8] {
        if !self.eof {
            match self.chunks.try_recv() {
                Ok(chunk) => self.accept(chunk),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => self.eof = true,
            }
        }
        &self.pending[self.pending_at..]
    }

    /// Waits until a whole line has arrived, or `capacity` bytes, or end of file, or a
    /// partial line has waited [`PARTIAL_LINE_WAIT`]; `Err` when nothing at all has arrived
    /// by the deadline. Then [`StreamIo::line`] is what the guest reads.
    pub(crate) fn fill_line(&mut self, capacity: usize) -> Result<(), StreamTimeout> {
        loop {
            let waiting = &self.pending[self.pending_at..];
            if self.eof || waiting.len() >= capacity || waiting.contains(&b'\n') {
                return Ok(());
            }
            let partial = !waiting.is_empty();
            let now = Instant::now();
            let until = if partial {
                (now + PARTIAL_LINE_WAIT).min(self.deadline)
            } else {
                self.deadline
            };
            match self
                .chunks
                .recv_timeout(until.saturating_duration_since(now))
            {
                Ok(chunk) => self.accept(chunk),
                Err(RecvTimeoutError::Timeout) if partial => return Ok(()),
                Err(RecvTimeoutError::Timeout) => return Err(StreamTimeout),
                Err(RecvTimeoutError::Disconnected) => self.eof = true,
            }
        }
    }

    /// The next line that has arrived (through its newline), at most `capacity` bytes.
    pub(crate) fn line(&self, capacity: usize) -> usize {
        let waiting = &self.pending[self.pending_at..];
        let end = waiting
            .iter()
            .position(|&b| b == b'\n')
            .map_or(waiting.len(), |i| i + 1);
        end.min(capacity)
    }

    fn accept(&mut self, chunk: std::io::Result<Vec<u8>>) {
        match chunk {
            Ok(bytes) => {
                self.pending.drain(..self.pending_at);
                self.pending_at = 0;
                self.pending.extend_from_slice(&bytes);
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
        io.fill_line(100).unwrap();
        assert_eq!(io.line(100), 0);
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
    fn lines_come_whole_however_the_writes_were_split() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut io = StreamIo::start(Box::new(reader), Box::new(Vec::new()), deadline).unwrap();
        let feeder = std::thread::spawn(move || {
            for piece in [&b"ab"[..], b"c", b"\nde", b"f\ng"] {
                writer.write_all(piece).unwrap();
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let mut lines = Vec::new();
        for capacity in [100, 2, 100, 100] {
            io.fill_line(capacity).unwrap();
            let n = io.line(capacity);
            lines.push(String::from_utf8(io.ready()[..n].to_vec()).unwrap());
            io.consume(n);
        }
        feeder.join().unwrap();
        // The last piece has no newline, then the writer closes: end of file.
        assert_eq!(lines, ["abc\n", "de", "f\n", "g"]);
        io.fill_line(100).unwrap();
        assert_eq!(io.line(100), 0);
    }

    #[test]
    fn a_partial_line_is_handed_over_after_a_pause() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut io = StreamIo::start(Box::new(reader), Box::new(Vec::new()), deadline).unwrap();
        writer.write_all(b"42").unwrap();
        let started = Instant::now();
        io.fill_line(100).unwrap();
        assert_eq!(io.line(100), 2);
        assert!(started.elapsed() >= PARTIAL_LINE_WAIT);
        assert!(started.elapsed() < Duration::from_secs(4));
        drop(writer);
    }

    #[test]
    fn nothing_by_the_deadline_is_a_timeout() {
        let (reader, writer) = std::io::pipe().unwrap();
        let deadline = Instant::now() + Duration::from_millis(50);
        let mut io = StreamIo::start(Box::new(reader), Box::new(Vec::new()), deadline).unwrap();
        assert!(io.fill_line(100).is_err());
        drop(writer);
    }
}
