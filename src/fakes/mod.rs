//! Local stand-ins for outside services, served over real HTTP on loopback. `balas demo`
//! and the test suite use them; production code talks to them through its normal clients.
pub mod llm;
pub mod media;
pub mod meta_webhook;
pub mod providers;
pub mod smtp;
