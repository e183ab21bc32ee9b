use std::io::Read;
use std::io::Result as IoResult;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// ml-connector patch: at most this many unread body bytes are read and thrown away when the
/// reader is dropped, and for at most [`DRAIN_TIME`]. Beyond that the connection is poisoned
/// (closed after the response) instead of being drained.
pub const DRAIN_LIMIT: usize = 64 << 20;
/// ml-connector patch: see [`DRAIN_LIMIT`].
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

/// A `Reader` that reads exactly the number of bytes from a sub-reader.
///
/// If the limit is reached, it returns EOF. If the limit is not reached
/// when the destructor is called, the remaining bytes will be read and
/// thrown away (ml-connector patch: up to [`DRAIN_LIMIT`] bytes and [`DRAIN_TIME`], in a fixed
/// buffer; the connection is poisoned if that was not enough).
pub struct EqualReader<R>
where
    R: Read,
{
    reader: R,
    size: usize,
    last_read_signal: Sender<IoResult<()>>,
    poison: Option<Arc<AtomicBool>>,
}

impl<R> EqualReader<R>
where
    R: Read,
{
    pub fn new(reader: R, size: usize) -> (EqualReader<R>, Receiver<IoResult<()>>) {
        let (tx, rx) = channel();

        let r = EqualReader {
            reader,
            size,
            last_read_signal: tx,
            poison: None,
        };

        (r, rx)
    }

    /// ml-connector patch: the flag to raise when the body could not be drained.
    pub fn with_poison(mut self, poison: Option<Arc<AtomicBool>>) -> Self {
        self.poison = poison;
        self
    }
}

impl<R> Read for EqualReader<R>
where
    R: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        if self.size == 0 {
            return Ok(0);
        }

        let buf = if buf.len() < self.size {
            buf
        } else {
            &mut buf[..self.size]
        };

        match self.reader.read(buf) {
            Ok(len) => {
                self.size -= len;
                Ok(len)
            }
            err @ Err(_) => err,
        }
    }
}

impl<R> Drop for EqualReader<R>
where
    R: Read,
{
    fn drop(&mut self) {
        // ml-connector patch: the original allocated `vec![0; remaining]` here, so a request
        // declaring a huge Content-Length aborted the process (allocation failure) when its body
        // was not read; and it drained without bound, holding the thread for as long as the
        // client kept sending.
        let mut remaining_to_read = self.size;
        let mut buf = [0u8; 8192];
        let started = Instant::now();
        let mut drained = 0usize;

        while remaining_to_read > 0 {
            if drained >= DRAIN_LIMIT || started.elapsed() > DRAIN_TIME {
                if let Some(p) = &self.poison {
                    p.store(true, Ordering::SeqCst);
                }
                break;
            }
            let n = remaining_to_read.min(buf.len());
            match self.reader.read(&mut buf[..n]) {
                Err(e) => {
                    if let Some(p) = &self.poison {
                        p.store(true, Ordering::SeqCst);
                    }
                    self.last_read_signal.send(Err(e)).ok();
                    break;
                }
                Ok(0) => {
                    if let Some(p) = &self.poison {
                        p.store(true, Ordering::SeqCst);
                    }
                    self.last_read_signal.send(Ok(())).ok();
                    break;
                }
                Ok(other) => {
                    remaining_to_read -= other;
                    drained += other;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EqualReader;
    use std::io::Read;

    #[test]
    fn test_limit() {
        use std::io::Cursor;

        let mut org_reader = Cursor::new("hello world".to_string().into_bytes());

        {
            let (mut equal_reader, _) = EqualReader::new(org_reader.by_ref(), 5);

            let mut string = String::new();
            equal_reader.read_to_string(&mut string).unwrap();
            assert_eq!(string, "hello");
        }

        let mut string = String::new();
        org_reader.read_to_string(&mut string).unwrap();
        assert_eq!(string, " world");
    }

    #[test]
    fn test_not_enough() {
        use std::io::Cursor;

        let mut org_reader = Cursor::new("hello world".to_string().into_bytes());

        {
            let (mut equal_reader, _) = EqualReader::new(org_reader.by_ref(), 5);

            let mut vec = [0];
            equal_reader.read_exact(&mut vec).unwrap();
            assert_eq!(vec[0], b'h');
        }

        let mut string = String::new();
        org_reader.read_to_string(&mut string).unwrap();
        assert_eq!(string, " world");
    }
}
