//! Data-subject rights and the other privacy operations the policies promise. Built so far:
//! access and portability (`export`).
pub mod export;
