//! Reading a file of a local sandbox as its processes append to it, woken by the kernel
//! (inotify) when it grows rather than by polling.
//!
//! One inotify instance serves every tail of a provider: the number of instances per user
//! is small (128 by default), the number of watches large. One task reads its events and
//! wakes the tail each one names.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

use super::Tail;
use crate::{Error, Result};

/// The tails waiting for their files to grow, by watch descriptor.
type Waiting = Mutex<HashMap<i32, Arc<Notify>>>;

/// The inotify instance shared by a provider's tails.
pub(super) struct Watcher {
    watches: Mutex<Watches>,
    waiting: Arc<Waiting>,
}

impl Watcher {
    /// Starts the instance and the task that reads its events; needs a Tokio runtime.
    pub(super) fn start() -> io::Result<Arc<Watcher>> {
        let inotify = Inotify::init()?;
        let watches = inotify.watches();
        // SAFETY: the instance owns its descriptor and closes it only when dropped, which
        // happens with the AsyncFd that owns it.
        let events = unsafe { AsyncFd::register(inotify) }.map_err(|e| e.into_parts().1)?;
        let waiting: Arc<Waiting> = Arc::default();
        tokio::spawn(wake_tails(events, Arc::downgrade(&waiting)));
        Ok(Arc::new(Watcher { watches: Mutex::new(watches), waiting }))
    }

    /// Follows `file`, opened from `path`, from byte `position` on.
    pub(super) fn tail(
        self: &Arc<Self>,
        file: std::fs::File,
        path: &Path,
        position: u64,
    ) -> Result<FileTail> {
        let watch = self
            .watches
            .lock()
            .expect("watches lock")
            .add(path, WatchMask::MODIFY | WatchMask::DONT_FOLLOW)
            .map_err(|e| Error::Internal(format!("cannot watch {}: {e}", path.display())))?;
        let grown = Arc::new(Notify::new());
        // Whatever was written before the watch began is read by the first read.
        grown.notify_one();
        self.waiting
            .lock()
            .expect("waiting lock")
            .insert(watch.get_watch_descriptor_id(), grown.clone());
        Ok(FileTail { file, position, watch: Some(watch), grown, watcher: self.clone() })
    }
}

/// Wakes each tail whose file was written, until the provider is gone.
async fn wake_tails(mut events: AsyncFd<Inotify>, waiting: Weak<Waiting>) {
    // Events on files carry no name: 16 bytes each, so one read takes thousands.
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let Ok(mut ready) = events.readable_mut().await else { return };
        let mut woken = Vec::new();
        let mut all = false;
        match ready.try_io(|inotify| inotify.get_mut().read_events(&mut buffer)) {
            Ok(Ok(read)) => {
                for event in read {
                    // A full queue dropped events: nobody can tell whose, so wake all.
                    all |= event.mask.contains(EventMask::Q_OVERFLOW);
                    woken.push(event.wd.get_watch_descriptor_id());
                }
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "reading file events failed; tails now wait for runs to end");
                return;
            }
            Err(_would_block) => continue,
        }
        let Some(waiting) = waiting.upgrade() else { return };
        let waiting = waiting.lock().expect("waiting lock");
        if all {
            waiting.values().for_each(|grown| grown.notify_one());
        } else {
            woken.iter().filter_map(|wd| waiting.get(wd)).for_each(|grown| grown.notify_one());
        }
    }
}

/// A file followed from a position, woken by [`Watcher`].
pub(super) struct FileTail {
    file: std::fs::File,
    position: u64,
    watch: Option<WatchDescriptor>,
    grown: Arc<Notify>,
    watcher: Arc<Watcher>,
}

#[async_trait]
impl Tail for FileTail {
    async fn read(&mut self, max: usize) -> Result<Vec<u8>> {
        // Reads from the page cache of a local file take microseconds: done in place
        // rather than paying a hop to the blocking pool per read.
        let length = self.file.metadata().map_err(read_error)?.len();
        let want = length.saturating_sub(self.position).min(max as u64) as usize;
        let mut bytes = vec![0u8; want];
        let mut filled = 0;
        while filled < want {
            match self.file.read_at(&mut bytes[filled..], self.position + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(read_error(e)),
            }
        }
        bytes.truncate(filled);
        self.position += filled as u64;
        Ok(bytes)
    }

    async fn grown(&mut self) {
        self.grown.notified().await;
    }
}

impl Drop for FileTail {
    fn drop(&mut self) {
        if let Some(watch) = self.watch.take() {
            let id = watch.get_watch_descriptor_id();
            self.watcher.waiting.lock().expect("waiting lock").remove(&id);
            // Fails harmlessly when the file is already gone (the kernel dropped it).
            let _ = self.watcher.watches.lock().expect("watches lock").remove(watch);
        }
    }
}

fn read_error(e: io::Error) -> Error {
    Error::Internal(format!("reading a sandbox file: {e}"))
}
