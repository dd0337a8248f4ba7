//! Activity: the Salt event stream consumer, normalisation, the `activity_events` store, the
//! in-process EventHub, its relay between replicas and the browser SSE stream.

pub mod consumer;
pub mod export;
pub mod hub;
pub mod normalize;
pub mod relay;
pub mod sse;
pub mod store;
