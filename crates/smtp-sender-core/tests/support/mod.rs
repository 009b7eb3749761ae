//! Shared by the core's tests: a scripted server made of bytes, driving a
//! machine through the [`Connection`](smtp_sender_core::Connection), and
//! the step-by-step helpers of the tests with injected time.
#![allow(dead_code)]

pub mod script;
pub mod steps;
