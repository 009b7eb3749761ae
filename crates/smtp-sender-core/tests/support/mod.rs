//! Shared by the core's tests: a scripted server made of bytes, driving a
//! machine through the [`Connection`](smtp_sender_core::Connection).
#![allow(dead_code)]

pub mod script;
