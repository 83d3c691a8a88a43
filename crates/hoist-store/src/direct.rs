//! Large bodies written past the page cache.
//!
//! A body past `SMALL_BODY` (in [`crate::fs`]) is written with `O_DIRECT` where the file
//! system takes it: its bytes are copied once into an aligned block and go from there to the
//! disk, instead of being copied into the page cache and written back later. On a virtual
//! machine, filling new page-cache pages is the largest single cost of receiving a body, and
//! an upload's bytes are seldom read back soon. The file ends as any other: the last partial
//! block goes through the page cache, then the caller's fsync makes the whole durable.
//!
//! Where `O_DIRECT` is refused (a file system without it, at open; a write the device will not
//! take aligned as it is), and when the store is set to buffered writes, the file goes through
//! the page cache, in batches of received chunks with one `writev` each and no copy.

use std::io::Write as _;
use std::path::Path;

use bytes::Bytes;

/// Alignment of a direct write's buffer, offset and length: a page, which covers every
/// logical block size in use (512 and 4096 bytes).
pub(crate) const ALIGN: usize = 4096;

/// Bytes per direct write.
const BLOCK: usize = 1 << 20;

/// A new file that takes a body chunk by chunk; [`BodyFile::finish`] writes what is left and
/// fsyncs it.
pub(crate) struct BodyFile {
    file: std::fs::File,
    mode: Mode,
}

enum Mode {
    Direct(Staged),
    Buffered(Gathered),
}

impl BodyFile {
    /// Creates the file at `path`, with `O_DIRECT` when `direct` and the file system takes
    /// it.
    pub(crate) fn create(path: &Path, direct: bool) -> std::io::Result<Self> {
        if !direct {
            return Ok(Self::buffered(open(path, false)?));
        }
        match open(path, true) {
            Ok(file) => Ok(Self {
                file,
                mode: Mode::Direct(Staged::new()),
            }),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                Ok(Self::buffered(open(path, false)?))
            }
            Err(e) => Err(e),
        }
    }

    fn buffered(file: std::fs::File) -> Self {
        Self {
            file,
            mode: Mode::Buffered(Gathered::default()),
        }
    }

    /// Whether the file is still written past the page cache.
    #[cfg(all(test, target_os = "linux"))]
    fn is_direct(&self) -> bool {
        matches!(self.mode, Mode::Direct(_))
    }

    pub(crate) fn push(&mut self, chunk: Bytes) -> std::io::Result<()> {
        let staged = match &mut self.mode {
            Mode::Buffered(gathered) => return gathered.push(&mut self.file, chunk),
            Mode::Direct(staged) => staged,
        };
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            rest = staged.fill(rest);
            if staged.filled == BLOCK && !staged.write_direct(&self.file, BLOCK)? {
                let left = chunk.slice(chunk.len() - rest.len()..);
                let mut gathered = Gathered::default();
                if !left.is_empty() {
                    gathered.push(&mut self.file, left)?;
                }
                self.mode = Mode::Buffered(gathered);
                break;
            }
        }
        Ok(())
    }

    /// Writes what is left, then fsyncs the file.
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        match &mut self.mode {
            Mode::Buffered(gathered) => gathered.flush(&mut self.file)?,
            Mode::Direct(staged) => {
                let aligned = staged.filled - staged.filled % ALIGN;
                let direct = aligned == 0 || staged.write_direct(&self.file, aligned)?;
                if direct && staged.filled > 0 {
                    // The last partial block: through the page cache, which takes any length.
                    drop_direct(&self.file)?;
                    let tail = staged.filled;
                    staged.write(&self.file, tail, false)?;
                }
            }
        }
        self.file.sync_all()
    }
}

fn open(path: &Path, direct: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(target_os = "linux")]
    if direct {
        // The flag's bits are a small positive number on every Linux target.
        options.custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = direct;
    options.open(path)
}

/// Takes `O_DIRECT` off the file's status flags.
fn drop_direct(file: &std::fs::File) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let flags = rustix::fs::fcntl_getfl(file)?;
        rustix::fs::fcntl_setfl(file, flags - rustix::fs::OFlags::DIRECT)?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
    Ok(())
}

/// One aligned block of a body, filled from its chunks.
struct Staged {
    /// [`BLOCK`] bytes from `start`, which is aligned to [`ALIGN`].
    buffer: Vec<u8>,
    start: usize,
    filled: usize,
}

impl Staged {
    fn new() -> Self {
        let buffer = vec![0u8; BLOCK + ALIGN];
        let start = buffer.as_ptr().align_offset(ALIGN);
        Self {
            buffer,
            start,
            filled: 0,
        }
    }

    /// Copies as much of `data` as the block has room for; returns the rest.
    fn fill<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let room = BLOCK - self.filled;
        let (now, rest) = data.split_at(room.min(data.len()));
        let from = self.start + self.filled;
        self.buffer[from..from + now.len()].copy_from_slice(now);
        self.filled += now.len();
        rest
    }

    /// Writes the block's first `len` bytes (a multiple of [`ALIGN`]) past the page cache:
    /// `true`. If the file system refuses, every staged byte goes through the page cache
    /// instead, and so must the rest of the file: `false`.
    fn write_direct(&mut self, file: &std::fs::File, len: usize) -> std::io::Result<bool> {
        match self.write(file, len, true) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                drop_direct(file)?;
                let pending = self.filled;
                self.write(file, pending, false)?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Writes the block's first `len` bytes at the file's position and keeps the rest (moved
    /// to the block's start). A direct write that the kernel cut short leaves the next one unaligned,
    /// which it refuses: the caller then writes the rest through the page cache.
    fn write(&mut self, file: &std::fs::File, len: usize, direct: bool) -> std::io::Result<()> {
        let mut done = 0;
        while done < len {
            let slice = &self.buffer[self.start + done..self.start + len];
            match (&*file).write(slice) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    done += n;
                    if direct && n % ALIGN != 0 {
                        self.keep_from(done);
                        return Err(rustix::io::Errno::INVAL.into());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.keep_from(done);
                    return Err(e);
                }
            }
        }
        self.keep_from(len);
        Ok(())
    }

    /// Drops the first `written` bytes of the block, moving the rest to its start.
    fn keep_from(&mut self, written: usize) {
        let from = self.start + written;
        let to = self.start + self.filled;
        self.buffer.copy_within(from..to, self.start);
        self.filled -= written;
    }
}

/// Chunks waiting for one `writev` through the page cache, with no copy.
#[derive(Default)]
struct Gathered {
    pending: Vec<Bytes>,
    bytes: usize,
}

impl Gathered {
    /// Bytes gathered before a write.
    const BATCH: usize = 1 << 20;
    /// Chunks gathered before a write (a slow client's chunks can be tiny).
    const SLICES: usize = 256;

    fn push(&mut self, file: &mut std::fs::File, chunk: Bytes) -> std::io::Result<()> {
        self.bytes += chunk.len();
        self.pending.push(chunk);
        if self.bytes >= Self::BATCH || self.pending.len() >= Self::SLICES {
            self.flush(file)?;
        }
        Ok(())
    }

    fn flush(&mut self, file: &mut std::fs::File) -> std::io::Result<()> {
        let mut slices: Vec<std::io::IoSlice<'_>> = self
            .pending
            .iter()
            .map(|chunk| std::io::IoSlice::new(chunk))
            .collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match file.write_vectored(rest) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => std::io::IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pending.clear();
        self.bytes = 0;
        Ok(())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Bytes no two offsets of which repeat within a block, so a block written twice or out of
    /// place shows.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 4099) as u8).collect()
    }

    /// Writes `data` in chunks of the sizes given (cycled), then reads the file back.
    fn round_trip(file: &mut BodyFile, path: &Path, data: &[u8], sizes: &[usize]) -> Vec<u8> {
        let bytes = Bytes::copy_from_slice(data);
        let mut at = 0;
        for size in sizes.iter().cycle() {
            if at == data.len() {
                break;
            }
            let end = (at + size).min(data.len());
            file.push(bytes.slice(at..end)).unwrap();
            at = end;
        }
        std::fs::read(path).unwrap()
    }

    fn opened_direct(file: &BodyFile) -> bool {
        rustix::fs::fcntl_getfl(&file.file)
            .unwrap()
            .contains(rustix::fs::OFlags::DIRECT)
    }

    #[test]
    fn every_length_and_chunking_gives_back_the_same_bytes_written_past_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let lengths = [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            ALIGN + 1,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            3 * BLOCK + 12_345,
        ];
        let chunkings: [&[usize]; 4] = [&[1 << 16], &[1, 4095, 65_537], &[BLOCK], &[3 * BLOCK]];
        for (n, len) in lengths.into_iter().enumerate() {
            for (c, sizes) in chunkings.iter().enumerate() {
                let path = dir.path().join(format!("{n}-{c}"));
                let data = pattern(len);
                let mut file = BodyFile::create(&path, true).unwrap();
                let direct = opened_direct(&file);
                let mut written = round_trip(&mut file, &path, &data, sizes);
                // Not yet finished: only whole blocks are on disk.
                if direct {
                    assert_eq!(written.len(), len - len % BLOCK, "{len} in {sizes:?}");
                    assert!(
                        file.is_direct(),
                        "a direct write was refused: {len} in {sizes:?}"
                    );
                }
                file.finish().unwrap();
                written = std::fs::read(&path).unwrap();
                assert!(
                    written == data,
                    "{len} bytes in chunks of {sizes:?} came back wrong"
                );
            }
        }
    }

    #[test]
    fn a_direct_write_the_kernel_refuses_goes_on_through_the_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        for len in [BLOCK - 1, BLOCK, 2 * BLOCK + 5, 3 * BLOCK] {
            let path = dir.path().join(format!("{len}"));
            let mut file = BodyFile::create(&path, true).unwrap();
            let direct = opened_direct(&file);
            // A block that is not aligned in memory: a file opened with O_DIRECT refuses it.
            if let Mode::Direct(staged) = &mut file.mode {
                staged.start += 1;
            }
            let data = pattern(len);
            round_trip(&mut file, &path, &data, &[100_000]);
            if direct && len >= BLOCK {
                // Refused at the first block: the file is no longer written past the cache.
                assert!(!file.is_direct(), "{len}");
                assert!(!opened_direct(&file), "{len}");
            }
            file.finish().unwrap();
            assert!(
                std::fs::read(&path).unwrap() == data,
                "{len} bytes came back wrong"
            );
        }
    }

    #[test]
    fn a_file_asked_for_without_direct_writes_goes_through_the_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("buffered");
        let mut file = BodyFile::create(&path, false).unwrap();
        assert!(!opened_direct(&file) && !file.is_direct());
        let data = pattern(2 * BLOCK + 3);
        round_trip(&mut file, &path, &data, &[70_000]);
        file.finish().unwrap();
        assert!(std::fs::read(&path).unwrap() == data);
    }

    #[test]
    fn a_file_that_already_exists_is_never_written_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("taken");
        std::fs::write(&path, b"kept").unwrap();
        for direct in [true, false] {
            assert!(BodyFile::create(&path, direct).is_err());
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
    }
}
