//! Activity: the Salt event stream consumer, normalisation, the `activity_events` store, the
//! in-process EventHub and the browser SSE stream.

pub mod consumer;
pub mod hub;
pub mod normalize;
pub mod sse;
pub mod store;
