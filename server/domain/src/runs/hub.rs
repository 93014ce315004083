//! Live delivery of a branch's events to the views following it in this server instance.
//!
//! The database is the record; the hub only says "here is what was just stored". A
//! follower that falls behind is told so ([`Live::Lagged`]) and reads the gap back from
//! the database, so nothing is lost and nothing is delivered twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::StoredEvent;

/// Events a follower may fall behind by before it is told to read them back. Each followed
/// branch holds this many slots, so it is kept small: catching up is cheap.
const CAPACITY: usize = 256;

/// What a follower of a branch hears.
#[derive(Clone, Debug)]
pub enum Live {
    /// An event, already stored.
    Event(Arc<StoredEvent>),
    /// Another server instance stored events of the branch; read them from the database.
    Stored,
    /// Something about the branch changed that is not an event (its queue, its loop, its
    /// status); read the branch again.
    Changed,
}

/// One channel per followed branch, made on its first follower and dropped when the last
/// follower leaves.
#[derive(Clone)]
pub struct Hub {
    branches: Arc<Mutex<HashMap<i64, broadcast::Sender<Live>>>>,
    /// Every branch's changes as `(user_id, branch_id)`, for views of a user's whole
    /// workspace (the sidebar).
    any: broadcast::Sender<(i64, i64)>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub { branches: Default::default(), any: broadcast::channel(CAPACITY).0 }
    }
}

impl Hub {
    pub fn follow(&self, branch_id: i64) -> broadcast::Receiver<Live> {
        let mut branches = self.branches.lock().expect("hub lock");
        branches.entry(branch_id).or_insert_with(|| broadcast::channel(CAPACITY).0).subscribe()
    }

    /// Follows every branch's status changes, as `(user_id, branch_id)`.
    pub fn follow_all(&self) -> broadcast::Receiver<(i64, i64)> {
        self.any.subscribe()
    }

    pub fn publish(&self, branch_id: i64, live: Live) {
        let mut branches = self.branches.lock().expect("hub lock");
        if let Some(sender) = branches.get(&branch_id) {
            if sender.send(live).is_err() {
                // Nobody follows any more.
                branches.remove(&branch_id);
            }
        }
    }

    /// Tells the branch's followers and the workspace views that its state changed.
    pub fn changed(&self, user_id: i64, branch_id: i64) {
        self.publish(branch_id, Live::Changed);
        // Nobody following is not an error.
        let _ = self.any.send((user_id, branch_id));
    }
}
