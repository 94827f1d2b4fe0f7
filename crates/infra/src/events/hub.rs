//! `EventPublisher` and `EventFeed` as an in-process tokio broadcast: every live listener
//! subscribes and gets every published event, from a shared ring buffer of bounded size.

use std::sync::Arc;

use async_trait::async_trait;
use movies_domain::events::{Delivery, Event, EventFeed, EventPublisher, Subscription};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

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
}

impl EventPublisher for EventHub {
    fn publish(&self, event: Event) {
        // No receiver is not an error: nobody is listening right now.
        let _ = self.sender.send(Arc::new(event));
    }
}

impl EventFeed for EventHub {
    fn subscribe(&self) -> Box<dyn Subscription> {
        Box::new(HubSubscription(self.sender.subscribe()))
    }
}

struct HubSubscription(broadcast::Receiver<Arc<Event>>);

#[async_trait]
impl Subscription for HubSubscription {
    // `recv` is cancel-safe, so this is too.
    async fn next(&mut self) -> Delivery {
        match self.0.recv().await {
            Ok(event) => Delivery::Event(event),
            Err(RecvError::Lagged(_)) => Delivery::Lagged,
            Err(RecvError::Closed) => Delivery::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use movies_domain::events::{EventSubject, Operation};

    use super::*;

    fn event(seq: i64) -> Event {
        Event {
            seq,
            entity: EventSubject::Movie,
            operation: Operation::Add,
            data: json!({}),
            at: String::new(),
        }
    }

    #[tokio::test]
    async fn a_subscriber_hears_what_is_published_after_it_subscribed_then_that_it_lagged() {
        let hub = EventHub::new(2);
        hub.publish(event(1));
        let mut listener = hub.subscribe();
        hub.publish(event(2));
        assert_eq!(listener.next().await, Delivery::Event(Arc::new(event(2))));
        for seq in 3..=5 {
            hub.publish(event(seq));
        }
        assert_eq!(listener.next().await, Delivery::Lagged);
    }
}
