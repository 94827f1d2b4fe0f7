//! `EventPublisher` as an in-process tokio broadcast: every live listener subscribes and gets
//! every published event, from a shared ring buffer of bounded size.

use std::sync::Arc;

use movies_domain::events::{Event, EventPublisher};
use tokio::sync::broadcast;

/// Fans events out to the WebSocket listeners of this process.
#[derive(Clone, Debug)]
pub struct EventHub {
    sender: broadcast::Sender<Arc<Event>>,
}

impl EventHub {
    /// `capacity`: how many events a listener may fall behind before it is told it lagged.
    pub fn new(capacity: usize) -> Self {
        Self { sender: broadcast::channel(capacity.max(1)).0 }
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }
}

impl EventPublisher for EventHub {
    fn publish(&self, event: Event) {
        // No receiver is not an error: nobody is listening right now.
        let _ = self.sender.send(Arc::new(event));
    }
}
