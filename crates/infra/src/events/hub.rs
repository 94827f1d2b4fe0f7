//! `EventPublisher` and `EventFeed` as an in-process tokio broadcast: every live listener
//! subscribes and gets every published event, from a shared ring buffer of bounded size, until
//! the hub is closed (the server is stopping).
//!
//! It counts what it does for `/metrics` through the `metrics` facade: `events_published_total`,
//! `events_lagged_total` (a listener fell further behind than the buffer holds) and the gauge
//! `event_listeners` (live subscriptions: the WebSocket listeners of this process).

use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use movies_domain::events::{
    Delivery, Event, EventFeed, EventPublisher, LiveEvent, Render, Subscription,
};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

/// Fans events out to the WebSocket listeners of this process. Clones share one channel.
#[derive(Clone, Debug)]
pub struct EventHub {
    /// The channel's only sender, shared by every clone; `None` once closed, which closes the
    /// channel: each subscriber then gets what was published before, then `Delivery::Closed`.
    sender: Arc<RwLock<Option<broadcast::Sender<Arc<LiveEvent>>>>>,
    render: Option<Render>,
}

impl EventHub {
    /// `capacity`: how many events a listener may fall behind before it is told it lagged.
    pub fn new(capacity: usize) -> Self {
        let sender = broadcast::channel(capacity.max(1)).0;
        Self { sender: Arc::new(RwLock::new(Some(sender))), render: None }
    }

    /// Closes the feed: every subscriber gets the events published so far, then
    /// `Delivery::Closed`; later subscribers get `Closed` at once, and later events go nowhere.
    /// What a stopping server does so that its listeners are told to reconnect elsewhere.
    pub fn close(&self) {
        self.sender.write().unwrap_or_else(PoisonError::into_inner).take();
    }

    /// Renders each published event with `render` once, before fanning it out: with thousands
    /// of listeners, rendering it once per listener was most of the work of a write.
    #[must_use]
    pub fn rendering(mut self, render: Render) -> Self {
        self.render = Some(render);
        self
    }
}

/// The metric names, as docs/operations.md lists them.
pub const EVENTS_PUBLISHED: &str = "events_published_total";
pub const EVENTS_LAGGED: &str = "events_lagged_total";
pub const EVENT_LISTENERS: &str = "event_listeners";

impl EventPublisher for EventHub {
    fn publish(&self, event: Event) {
        metrics::counter!(EVENTS_PUBLISHED).increment(1);
        let sender = self.sender.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = sender.as_ref() {
            // No receiver is not an error: nobody is listening right now.
            let _ = sender.send(Arc::new(LiveEvent::rendered(event, self.render)));
        }
    }
}

impl EventFeed for EventHub {
    fn subscribe(&self) -> Box<dyn Subscription> {
        metrics::gauge!(EVENT_LISTENERS).increment(1.0);
        let sender = self.sender.read().unwrap_or_else(PoisonError::into_inner);
        let receiver = match sender.as_ref() {
            Some(sender) => sender.subscribe(),
            // Closed: a receiver whose sender is gone, which says `Closed` at once.
            None => broadcast::channel(1).1,
        };
        Box::new(HubSubscription(receiver))
    }
}

struct HubSubscription(broadcast::Receiver<Arc<LiveEvent>>);

impl Drop for HubSubscription {
    fn drop(&mut self) {
        metrics::gauge!(EVENT_LISTENERS).decrement(1.0);
    }
}

#[async_trait]
impl Subscription for HubSubscription {
    // `recv` is cancel-safe, so this is too.
    async fn next(&mut self) -> Delivery {
        match self.0.recv().await {
            Ok(event) => Delivery::Event(event),
            Err(RecvError::Lagged(_)) => {
                metrics::counter!(EVENTS_LAGGED).increment(1);
                Delivery::Lagged
            }
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

    fn live(event: Event, text: Option<&str>) -> Delivery {
        Delivery::Event(Arc::new(LiveEvent { event, text: text.map(Arc::from) }))
    }

    #[tokio::test]
    async fn a_subscriber_hears_what_is_published_after_it_subscribed_then_that_it_lagged() {
        let hub = EventHub::new(2);
        hub.publish(event(1));
        let mut listener = hub.subscribe();
        hub.publish(event(2));
        assert_eq!(listener.next().await, live(event(2), None));
        for seq in 3..=5 {
            hub.publish(event(seq));
        }
        assert_eq!(listener.next().await, Delivery::Lagged);
    }

    #[tokio::test]
    async fn closing_the_hub_ends_each_subscription_after_what_was_published_before() {
        let hub = EventHub::new(4);
        let mut listener = hub.subscribe();
        hub.publish(event(1));
        hub.clone().close();
        hub.publish(event(2));
        assert_eq!(listener.next().await, live(event(1), None));
        assert_eq!(listener.next().await, Delivery::Closed);
        assert_eq!(hub.subscribe().next().await, Delivery::Closed);
    }

    #[tokio::test]
    async fn a_rendering_hub_hands_out_each_event_with_its_text_but_internal_ones_without() {
        let hub = EventHub::new(4).rendering(|e| format!("event {}", e.seq));
        let mut listener = hub.subscribe();
        hub.publish(event(1));
        let internal = Event { entity: EventSubject::Auth, ..event(2) };
        hub.publish(internal.clone());
        assert_eq!(listener.next().await, live(event(1), Some("event 1")));
        assert_eq!(listener.next().await, live(internal, None));
    }
}
