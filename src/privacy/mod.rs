//! Data-subject rights and the other privacy operations the policies promise: access and
//! portability (`export`), correction, erasure, request deadlines (`requests`).
pub mod audit_actions;
pub mod breach;
pub mod correct;
pub mod erase;
pub mod export;
pub mod requests;
pub mod retention;
pub mod subprocessor_changes;
pub mod whatsapp;
