//! Chat events end to end: REST writes on the service, delivery through the real
//! Centrifugo, received by the official client (centrifuge-python through `RtClient`).

mod harness;

mod events;
mod odd_ids;
mod personal_channel;
mod recovery_and_order;
mod who_may_listen;
